"""Calibration figures of a dataset, beside the published targets of DESIGN.md.

Reads only observable tables (trades, events, outcomes, …): never ``truth``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar
from core.vocabulary import ASSET_CLASSES, FAIL_REASONS
from features.data.contract import Dataset
from features.data.derive import affirmed_by_cutoff, holiday_in_window, period_end

__all__ = ["TARGETS", "CalibrationSummary", "Target", "summarise"]


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    low: float
    high: float = float("inf")
    is_share: bool = True  # a share (shown in %) rather than a ratio (shown as x)

    def format(self, value: float) -> str:
        return f"{value:.1%}" if self.is_share else f"{value:.2f}x"

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def text(self) -> str:
        if self.high == float("inf"):
            return f">= {self.format(self.low)}"
        return f"{self.format(self.low)} – {self.format(self.high)}"


TARGETS: tuple[Target, ...] = (
    Target("fail_rate_count", "fail rate by count", 0.03, 0.06),
    Target("value_below_count", "value-weighted rate / count rate", 0.0, 0.999, is_share=False),
    Target("fail_rate_ETF", "fail rate, ETF", 0.08, 0.15),
    Target("fail_rate_EQUITY", "fail rate, EQUITY", 0.04, 0.08),
    Target("fail_rate_CORP_BOND", "fail rate, CORP_BOND", 0.02, 0.05),
    Target("fail_rate_GOVT_BOND", "fail rate, GOVT_BOND", 0.01, 0.03),
    Target("cause_LACK_OF_SECURITIES", "cause share, lack of securities", 0.35, 0.50),
    Target("cause_SSI_MISMATCH", "cause share, SSI", 0.15, 0.25),
    Target("cause_LATE_MATCHING", "cause share, late matching", 0.15, 0.25),
    Target("cause_LACK_OF_CASH", "cause share, lack of cash", 0.03, 0.10),
    Target("cause_OTHER_COUNTERPARTY", "cause share, other + counterparty", 0.05, 0.15),
    Target("affirmed_by_cutoff_t1", "affirmed by cutoff, T+1 trades", 0.90, 1.0),
    Target("unaffirmed_fail_ratio", "fail ratio unaffirmed / affirmed", 3.0, is_share=False),
    Target("top10_cpty_fail_share", "share of fails, top 10% counterparties", 0.40, 1.0),
    Target("period_end_uplift", "fail ratio period-end / other", 1.3, is_share=False),
    Target("holiday_uplift", "fail ratio holiday-window / other", 1.3, is_share=False),
)


@dataclass(frozen=True)
class CalibrationSummary:
    n_trades: int
    n_settled_or_failed: int
    figures: dict[str, float]
    days_late: dict[str, float]

    def checks(self) -> list[tuple[Target, float, bool]]:
        return [(t, self.figures[t.key], t.holds(self.figures[t.key])) for t in TARGETS]

    @property
    def all_targets_met(self) -> bool:
        return all(ok for _, _, ok in self.checks())

    def to_dict(self) -> dict[str, object]:
        return {
            "n_trades": self.n_trades,
            "n_settled_or_failed": self.n_settled_or_failed,
            "figures": self.figures,
            "days_late": self.days_late,
            "targets": [
                {"key": t.key, "label": t.label, "value": v, "target": t.text, "met": ok}
                for t, v, ok in self.checks()
            ],
        }


def _ratio(failed: pd.Series, flag: np.ndarray) -> float:
    inside, outside = failed[flag].mean(), failed[~flag].mean()
    return float(inside / outside) if outside > 0 else float("nan")


def summarise(data: Dataset) -> CalibrationSummary:
    trades, outcomes = data["trades"], data["outcomes"]
    frame = trades.merge(
        outcomes[["trade_id", "status", "fail_reason", "days_late"]], on="trade_id"
    )
    frame = frame[frame["status"] != "CANCELLED"].reset_index(drop=True)
    failed = frame["status"].eq("FAILED")
    calendar = SettlementCalendar(data["holidays"])
    figures: dict[str, float] = {}

    figures["fail_rate_count"] = float(failed.mean())
    figures["fail_rate_value"] = float(
        frame.loc[failed, "notional"].sum() / frame["notional"].sum()
    )
    figures["value_below_count"] = figures["fail_rate_value"] / figures["fail_rate_count"]
    asset = frame["instrument_id"].map(
        data["instruments"].set_index("instrument_id")["asset_class"]
    )
    for ac in ASSET_CLASSES:
        figures[f"fail_rate_{ac}"] = float(failed[asset == ac].mean())
    causes = frame.loc[failed, "fail_reason"].value_counts(normalize=True)
    for reason in FAIL_REASONS:
        figures[f"cause_{reason}"] = float(causes.get(reason, 0.0))
    figures["cause_OTHER_COUNTERPARTY"] = figures["cause_OTHER"] + figures["cause_COUNTERPARTY"]

    affirmed = affirmed_by_cutoff(calendar, frame, data["events"])
    t1 = frame["settlement_cycle_days"].eq(1).to_numpy()
    figures["affirmed_by_cutoff_t1"] = float(affirmed[t1].mean()) if t1.any() else float("nan")
    figures["affirmed_by_cutoff_all"] = float(affirmed.mean())
    figures["unaffirmed_fail_ratio"] = _ratio(failed, ~affirmed)

    per_cpty = failed.groupby(frame["counterparty_id"]).sum().sort_values(ascending=False)
    top = max(1, int(np.ceil(0.10 * per_cpty.size)))
    figures["top10_cpty_fail_share"] = float(per_cpty.iloc[:top].sum() / max(per_cpty.sum(), 1))

    figures["period_end_uplift"] = _ratio(failed, period_end(calendar, frame))
    domicile = frame["counterparty_id"].map(
        data["counterparties"].set_index("counterparty_id")["domicile_market"]
    )
    holiday = holiday_in_window(
        calendar,
        frame["trade_date"].to_numpy("datetime64[D]"),
        frame["settlement_date"].to_numpy("datetime64[D]"),
        frame["settlement_market"].to_numpy(),
        domicile.to_numpy(),
    )
    figures["holiday_uplift"] = _ratio(failed, holiday)

    late = frame.loc[failed, "days_late"]
    days_late = {
        "1 day": float((late == 1).mean()),
        "2 days": float((late == 2).mean()),
        "3-5 days": float(late.between(3, 5).mean()),
        "6+ days": float((late >= 6).mean()),
        "median": float(late.median()) if len(late) else float("nan"),
        "p95": float(late.quantile(0.95)) if len(late) else float("nan"),
        "max": float(late.max()) if len(late) else float("nan"),
    }
    return CalibrationSummary(len(trades), len(frame), figures, days_late)
