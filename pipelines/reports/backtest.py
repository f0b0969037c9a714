"""`failcast backtest`: replay a period with the champion, day by day, on point-in-time
features, and measure what the exception queue would have done.

For every trade settling in the period, scored at execution, after the affirmation cutoff and
on the eve of its ISD:
- the share of its fails flagged (MEDIUM or HIGH) by each stage, and how long before the
  fail became known they were first flagged (lead time);
- each settlement date's queue sized to capacity K, costliest first on the eve of the ISD:
  what the fails it held cost by their markets' regimes (penalty, funding, buy-in; in USD)
  and their penalty under the one CSDR-style schedule failcast priced every market with
  before, for the model ranked either way, against a rules-only queue (the ops desk's red
  flags, largest penalty exposure first) and, on simulated data, the queues of the oracle
  (everything known up to the eve) and of hindsight (the fail probabilities themselves).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.costs import DEFAULT_PENALTIES, CostModel, in_reporting_currency
from core.errors import InvalidInput
from core.settings import Settings, get_settings
from core.stages import STAGES
from features.data.contract import read_dataset
from training.assess import assessed_rows, load_model
from training.baselines import ops_rule_score
from training.evaluate import HINDSIGHT, ORACLE, truth_scorers
from training.train import Step

__all__ = ["Backtest", "backtest"]

QUEUE_STAGE = STAGES[-1]
"""The daily queue is ranked on the eve of the ISD, with everything known by then."""


@dataclass(frozen=True)
class Backtest:
    start: dt.date
    end: dt.date
    capacity: int
    trades: int
    fails: int
    stages: pd.DataFrame  # stage, fails flagged by then (share), precision of the flags
    lead_hours: float  # median, over fails flagged at some stage
    queues: pd.DataFrame  # queue, fails held, penalty caught, share of all fails' penalty
    days: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": str(self.start),
            "to": str(self.end),
            "capacity": self.capacity,
            "settlement_dates": self.days,
            "trades": self.trades,
            "fails": self.fails,
            "median_lead_hours": self.lead_hours,
            "stages": self.stages.to_dict("records"),
            "queues": self.queues.to_dict("records"),
        }


def backtest(
    data_dir: Path,
    start: dt.date,
    end: dt.date,
    capacity: int | None = None,
    settings: Settings | None = None,
    model_uri: str | None = None,
    step: Step = lambda name, fraction: None,
) -> Backtest:
    settings = settings or get_settings()
    capacity = capacity or settings.queue_capacity
    if end < start:
        raise InvalidInput(f"--to ({end}) must be on or after --from ({start})")
    # the settlement dates alone first: a period with no trade is refused before any build
    dates = read_dataset(data_dir, ["trades"])["trades"]["settlement_date"]
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    if not dates.between(first, last).any():
        raise InvalidInput(
            f"no trade settles between {start} and {end}; the dataset's settlement dates run "
            f"from {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}"
        )
    del dates
    model = load_model(settings, model_uri)
    dataset, rows = assessed_rows(
        data_dir,
        settings,
        step,
        chosen=lambda trades: trades["settlement_date"].between(first, last).to_numpy(),
    )
    # the trade facts read below, indexed once: not a copy of the whole trades table per read
    by_id = dataset["trades"][
        ["trade_id", "settlement_date", "currency", "settlement_market", "side"]
    ].set_index("trade_id")
    del dataset
    rows["settlement_date"] = rows["trade_id"].map(by_id["settlement_date"])
    step("score", 0.92)
    rows["p"] = model.predict(rows)
    rows["flagged"] = rows["p"] >= settings.risk_medium
    days_late = model.meta.get("expected_days_late")
    costs = CostModel(days_late=days_late) if days_late else CostModel()
    currency = rows["trade_id"].map(by_id["currency"]).to_numpy()
    parts = costs.expected_parts(
        rows["p"],
        notional=rows["notional"],
        asset_class=rows["asset_class"],
        adv=rows["avg_daily_volume"],
        market=rows["trade_id"].map(by_id["settlement_market"]),
        currency=currency,
        side=rows["trade_id"].map(by_id["side"]),
        cause=model.predict_cause(rows),
    )
    rows["expected_cost_usd"] = in_reporting_currency(parts.total, currency)
    # the one CSDR-style schedule everywhere: what failcast ranked by before its regimes
    rows["expected_penalty"] = costs.expected_cost(
        rows["p"], rows["notional"], rows["asset_class"], rows["avg_daily_volume"]
    )
    rows["rule"] = ops_rule_score(rows)
    rows["exposure"] = rows["notional"] * DEFAULT_PENALTIES.daily_rate(
        rows["asset_class"], rows["avg_daily_volume"]
    )
    truth = truth_scorers(data_dir, rows)
    for name, (score, _) in truth.items():
        rows[name] = score

    step("queues", 0.96)
    eve = rows.loc[rows["stage"] == QUEUE_STAGE]
    queues = {
        "model (expected cost by market regime)": eve.sort_values(
            "expected_cost_usd", ascending=False
        ),
        "model (expected penalty, one CSDR schedule)": eve.sort_values(
            "expected_penalty", ascending=False
        ),
        "ops rule (red flags, largest exposure)": eve.loc[eve["rule"] > 0].sort_values(
            ["rule", "exposure"], ascending=False
        ),
    }
    labels = {
        ORACLE: "oracle (P(fail) knowing all up to the eve × exposure)",
        HINDSIGHT: "hindsight (P(fail) knowing the future × exposure)",
    }
    for name in truth:
        queues[labels[name]] = eve.assign(value=eve[name] * eve["exposure"]).sort_values(
            "value", ascending=False
        )
    fails = eve.loc[eve["failed"]]
    totals = {"penalty": float(fails["penalty"].sum()), "cost_usd": float(fails["cost_usd"].sum())}
    table = pd.DataFrame(
        [_queue(name, ranked, capacity, len(fails), totals) for name, ranked in queues.items()]
    )
    step("done", 1.0)
    return Backtest(
        start=start,
        end=end,
        capacity=capacity,
        trades=int(eve["trade_id"].nunique()),
        fails=len(fails),
        stages=_stages(rows),
        lead_hours=_lead_hours(rows),
        queues=table,
        days=int(eve["settlement_date"].nunique()),
    )


def _queue(
    name: str, ranked: pd.DataFrame, capacity: int, fails: int, totals: dict[str, float]
) -> dict[str, Any]:
    """Each settlement date's top ``capacity`` trades of ``ranked`` (already in order): the
    fails it held, what they cost by their markets' regimes (USD) and the penalty of the one
    CSDR-style schedule, each beside its total over all fails."""
    queued = ranked.groupby("settlement_date", sort=False).head(capacity)
    caught = queued.loc[queued["failed"]]

    def share(column: str) -> float:
        total = totals[column]
        return float(caught[column].sum()) / total if total else float("nan")

    return {
        "queue": name,
        "queued": len(queued),
        "fails_caught": len(caught),
        "fail_share": len(caught) / fails if fails else float("nan"),
        "cost_caught_usd": float(caught["cost_usd"].sum()),
        "cost_share": share("cost_usd"),
        "penalty_caught": float(caught["penalty"].sum()),
        "penalty_share": share("penalty"),
    }


def _stages(rows: pd.DataFrame) -> pd.DataFrame:
    """Fails flagged by each stage (at it or an earlier one) and the precision of the flags
    raised at it."""
    order = {stage: i for i, stage in enumerate(STAGES)}
    flags = rows.loc[rows["flagged"]]
    first_flag = flags["stage"].map(order).groupby(flags["trade_id"]).min()
    failed = rows.drop_duplicates("trade_id").set_index("trade_id")["failed"]
    fail_ids = failed.index[failed.to_numpy()]
    out = []
    for stage in STAGES:
        at = rows.loc[rows["stage"] == stage]
        by_then = first_flag.reindex(fail_ids) <= order[stage]
        flags = at.loc[at["flagged"]]
        out.append(
            {
                "stage": stage,
                "fails_flagged_by_then": float(by_then.mean()) if len(fail_ids) else float("nan"),
                "flagged_trades": len(flags),
                "precision": float(flags["failed"].mean()) if len(flags) else float("nan"),
            }
        )
    return pd.DataFrame(out)


def _lead_hours(rows: pd.DataFrame) -> float:
    """Median hours from a fail's first flag to when the fail became known (end of ISD)."""
    flagged = rows.loc[rows["flagged"] & rows["failed"]]
    if flagged.empty:
        return float("nan")
    first = flagged.groupby("trade_id").agg(
        at=("event_timestamp", "min"), known=("label_known_ts", "first")
    )
    lead = pd.to_datetime(first["known"], utc=True) - pd.to_datetime(first["at"], utc=True)
    return float(lead.dt.total_seconds().median() / 3600)
