"""What a fail costs, market by market: each regime of the shipped file against examples
computed by hand, and a bad file refused naming the file, the key and the rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from core.errors import ConfigError
from core.regimes import (
    DEFAULT_REGIMES,
    CostRegimes,
    CsdrCategory,
    csdr_category,
    load_regimes,
    price_fail,
)
from core.settings import get_settings


def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(DEFAULT_REGIMES.read_text())
    return raw


def _with(change: dict[str, Any], market: str, part: str) -> CostRegimes:
    raw = _raw()
    raw["markets"][market][part] = {**raw["markets"][market][part], **change}
    return CostRegimes.model_validate(raw)


def test_a_liquid_german_share_pays_the_csdr_rate_and_funding() -> None:
    # 1,000,000 EUR, 2 business days late: 1.0 bp a day; EUR STR 1.93 % act/360 on 2.8 days
    cost = price_fail(
        load_regimes(),
        market="DE",
        currency="EUR",
        asset_class="EQUITY",
        category=csdr_category("EQUITY", liquid=True),
        side="SELL",
        value=1_000_000.0,
        days_late=2,
    )
    assert cost.penalty == pytest.approx(200.0)
    assert cost.funding == pytest.approx(1_000_000 * 0.0193 / 360 * 2.8)  # 150.11
    assert cost.buy_in == 0.0  # not late enough for a buy-in
    lack_of_cash = price_fail(
        load_regimes(),
        market="DE",
        currency="EUR",
        asset_class="EQUITY",
        category=CsdrCategory.LIQUID_SHARES,
        side="BUY",
        value=1_000_000.0,
        days_late=2,
        lack_of_cash=True,
    )
    assert lack_of_cash.penalty == pytest.approx(1_000_000 * 0.0193 / 365 * 2)  # 105.75


def test_a_german_etf_is_an_other_instrument_at_half_a_basis_point() -> None:
    assert csdr_category("ETF", liquid=True) is CsdrCategory.OTHER_INSTRUMENTS
    cost = price_fail(
        load_regimes(),
        market="DE",
        currency="EUR",
        asset_class="ETF",
        category=csdr_category("ETF", liquid=True),
        side="SELL",
        value=1_000_000.0,
        days_late=3,
    )
    assert cost.penalty == pytest.approx(150.0)


@pytest.mark.parametrize(
    ("fed_funds", "charge"), [(0.0025, 10e6 * 0.0275 / 360 * 7), (0.0425, 0.0)]
)
def test_a_us_treasury_fail_pays_the_tmpg_charge_at_the_fed_funds_level(
    fed_funds: float, charge: float
) -> None:
    # 10,000,000 USD, 5 business days late = 7 calendar days; max(3 % - fed funds, 0) act/360
    regimes = _with({"policy_rate": fed_funds}, "US", "penalty")
    cost = price_fail(
        regimes,
        market="US",
        currency="USD",
        asset_class="GOVT_BOND",
        category=CsdrCategory.SOVEREIGN_DEBT,
        side="BUY",
        value=10e6,
        days_late=5,
    )
    assert cost.penalty == pytest.approx(charge)  # 5,347.22 at 0.25 %; none at 4.25 %
    assert cost.buy_in == 0.0  # a purchase is not bought in


def test_a_us_equity_sale_has_no_penalty_and_a_buy_in_after_its_close_out() -> None:
    def sale(days: float, side: str = "SELL") -> Any:
        return price_fail(
            load_regimes(),
            market="US",
            currency="USD",
            asset_class="EQUITY",
            category=CsdrCategory.LIQUID_SHARES,
            side=side,
            value=500_000.0,
            days_late=days,
        )

    late = sale(4)
    assert late.penalty == 0.0
    assert late.buy_in == pytest.approx(500_000 * 0.5 * 0.02)  # 5,000
    assert late.funding == pytest.approx(500_000 * 0.0388 / 360 * 5.6)  # 301.78
    assert late.dominant() == "buy-in"
    assert sale(3).buy_in == 0.0 and sale(4, "BUY").buy_in == 0.0


def test_a_japanese_government_bond_pays_the_jgb_fails_charge() -> None:
    cost = price_fail(
        load_regimes(),
        market="JP",
        currency="JPY",
        asset_class="GOVT_BOND",
        category=CsdrCategory.SOVEREIGN_DEBT,
        side="SELL",
        value=100e6,
        days_late=1,
    )
    assert cost.penalty == pytest.approx(100e6 * 0.025 / 365 * 1.4)  # 9,589.04 JPY
    assert cost.funding == pytest.approx(100e6 * 0.0048 / 365 * 1.4)  # 1,841.10 JPY


@pytest.mark.parametrize("market", ["GB", "CA"])
def test_where_no_cash_penalty_applies_only_funding_and_buy_in_are_priced(market: str) -> None:
    regimes = load_regimes()
    assert regimes.regime(market).penalty.kind == "none"
    cost = price_fail(
        regimes,
        market=market,
        currency={"GB": "GBP", "CA": "CAD"}[market],
        asset_class="EQUITY",
        category=CsdrCategory.LIQUID_SHARES,
        side="SELL",
        value=1e6,
        days_late=11,
    )
    assert cost.penalty == 0.0 and cost.funding > 0
    assert cost.buy_in == pytest.approx(1e6 * 0.10 * 0.01)  # 10 % × 100 bp


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (
            lambda r: r["markets"]["DE"]["buy_in"].update(probability=1.5),
            "markets.DE.buy_in.probability",
        ),
        (lambda r: r["currencies"]["EUR"].pop("overnight_rate"), "currencies.EUR.overnight_rate"),
        (
            lambda r: r["markets"]["FR"]["penalty"]["bps_per_day"].pop("other_debt"),
            "markets.FR.penalty: Value error, bps_per_day lacks the categories other_debt",
        ),
        (lambda r: r["markets"]["US"]["penalty"].update(kind="fine"), "markets.US.penalty"),
        (lambda r: r["markets"]["GB"].update(rebate=1), "markets.GB.rebate: Extra inputs"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, edit: Any, named: str
) -> None:
    raw = _raw()
    edit(raw)
    path = tmp_path / "regimes.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as refused:
        load_regimes(path)
    assert str(refused.value).startswith(f"{path}: ") and named in str(refused.value)


def test_costs_show_prints_the_table_in_force_with_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.cli import app

    runner = CliRunner()
    shown = runner.invoke(app, ["costs", "show", "--market", "DE"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "CSDR" in shown.output and "2017/389" in shown.output and "EUR STR" in shown.output
    unknown = runner.invoke(app, ["costs", "show", "--market", "XX"])
    assert unknown.exit_code == 1 and "'XX': no cost regime" in unknown.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("as_of: [\n")
    monkeypatch.setenv("FAILCAST_COST_REGIMES", str(bad))
    get_settings.cache_clear()
    refused = runner.invoke(app, ["costs", "show"])
    assert refused.exit_code == 1 and "not valid YAML" in refused.output
