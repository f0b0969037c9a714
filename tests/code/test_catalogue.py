"""The feature catalogue and the vocabularies are the one definition everything else is
derived from: the Feast repo, the reasons, the lifecycle's spellings, the contract."""

from __future__ import annotations

from pathlib import Path

from core.actions import ACTIONS, ReasonCode
from core.catalogue import CATALOGUE, FEATURES, MODEL_FEATURES, STORED_VIEWS, Family, of_view
from core.lifecycle import AMENDMENTS, CANCELLED, EVENT_TYPES, STEPS
from core.markets import MARKETS
from core.vocabulary import CURRENCIES, MARKET_CODES
from features.repo import FAIL_MODEL_V1, VIEW_SCHEMAS, definitions


def test_every_name_is_declared_once() -> None:
    assert len(FEATURES) == len(CATALOGUE)


def test_the_feature_service_serves_the_model_features_in_catalogue_order(tmp_path: Path) -> None:
    built = definitions(tmp_path)
    assert built.feature_names(FAIL_MODEL_V1) == [f.name for f in MODEL_FEATURES]
    assert len(MODEL_FEATURES) >= 50


def test_feast_fields_are_the_catalogues(tmp_path: Path) -> None:
    built = definitions(tmp_path)
    for view in STORED_VIEWS:
        fields = [(f.name, f.description) for f in built.views[view].features]
        assert fields == [(f.name, f.description) for f in of_view(view)], view
    assert list(VIEW_SCHEMAS) == list(STORED_VIEWS)
    for odfv in built.on_demand:
        assert [f.name for f in odfv.features] == [f.name for f in of_view(odfv.name)], odfv.name


def test_every_model_feature_reads_as_a_reason_with_an_action() -> None:
    for feature in MODEL_FEATURES:
        assert feature.label and feature.fmt is not None, feature.name
        assert feature.family is not Family.REQUEST, feature.name
    assert set(ACTIONS) == set(ReasonCode)
    assert all(a.text and a.team for a in ACTIONS.values())
    assert {f.reason for f in MODEL_FEATURES} <= set(ReasonCode)


def test_the_lifecycle_names_every_event_type_once() -> None:
    named = [s.event for s in STEPS] + [AMENDMENTS.event, CANCELLED]
    assert sorted(named) == sorted(EVENT_TYPES)
    for spelling in ("feature", "field", "request"):
        values = [getattr(s, spelling) for s in STEPS] + [getattr(AMENDMENTS, spelling)]
        assert len(set(values)) == len(values), spelling
    assert {s.feature for s in STEPS} | {AMENDMENTS.feature} <= set(FEATURES)
    assert {s.request for s in STEPS} | {AMENDMENTS.request} <= set(FEATURES)


def test_market_codes_and_currencies_follow_the_market_table() -> None:
    assert tuple(MARKETS) == MARKET_CODES
    assert set(CURRENCIES) == {m.currency for m in MARKETS.values()}
