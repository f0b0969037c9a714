"""The simulator's oracles: the label's probability given everything known by a stage.

One that conditions correctly agrees, on average, with the probability the label was drawn
from over any group defined by what is known at its stage, and ranks fails better the more it
knows: execution < ISD-1 < hindsight.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from core.calendar import SettlementCalendar
from core.instants import instants_us
from core.stages import stage_instants
from features.data.contract import Dataset


@pytest.fixture(scope="module")
def frame(calibration_world: Dataset) -> pd.DataFrame:
    d = calibration_world
    f = d["trades"].merge(d["outcomes"][["trade_id", "status"]]).merge(d["truth"])
    f = f[f["status"] != "CANCELLED"].reset_index(drop=True)
    f["failed"] = f["status"].eq("FAILED")
    eve = stage_instants(f, SettlementCalendar(d["holidays"]), "ISD_1")
    events = d["events"]
    matched = events.loc[events["event_type"] == "MATCHED"].set_index("trade_id")["event_ts"]
    match_us = instants_us(f["trade_id"].map(matched))
    f["matched_by_eve"] = match_us <= eve
    return f


@pytest.mark.parametrize("matched", [False, True], ids=["unmatched", "matched"])
def test_isd_1_oracle_agrees_with_the_label_probability_on_what_the_eve_shows(
    frame: pd.DataFrame, matched: bool
) -> None:
    group = frame.loc[frame["matched_by_eve"] == matched]
    assert len(group) > 1_000
    assert group["p_fail_at_isd_1"].mean() == pytest.approx(group["p_fail_final"].mean(), rel=0.05)


def test_oracles_rank_fails_better_the_more_they_know(frame: pd.DataFrame) -> None:
    y = frame["failed"].to_numpy()
    pr_auc = [
        average_precision_score(y, frame[c])
        for c in ("p_fail_at_execution", "p_fail_at_isd_1", "p_fail_final")
    ]
    assert pr_auc == sorted(pr_auc) and np.diff(pr_auc).min() > 0.02
