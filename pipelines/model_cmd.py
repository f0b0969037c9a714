"""`failcast train` and `failcast evaluate`: the retraining pipeline's two commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich import box
from rich.table import Table

from core.settings import get_settings
from pipelines.console import console, progress_steps

if TYPE_CHECKING:  # the search's libraries load only when a command needs them
    from training.tune import TuneResult

__all__ = ["evaluate_cmd", "importance_table", "metrics_table", "train_cmd", "tuning_table"]

# What fits an 80-column terminal; ROC-AUC, Brier and recall@1% are in MLflow and in --json.
_COLUMNS = (
    ("pr_auc", "PR-AUC", "{:.3f}"),
    ("recall_at_5pct", "rec@5%", "{:.0%}"),
    ("cost_recall_at_5pct", "cost@5%", "{:.0%}"),
    ("ece", "ECE", "{:.3f}"),
    ("pr_auc_vs_oracle", "/oracle", "{:.2f}"),
    ("pr_auc_vs_hindsight", "/hind", "{:.2f}"),
)


def metrics_table(table: pd.DataFrame, title: str) -> Table:
    """Every scorer at every stage, over all asset classes."""
    out = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        caption="rec@5%: share of fails among the riskiest 5% of trades; cost@5%: share of "
        "penalty cost; /oracle: PR-AUC over the oracle's (all known by the stage); "
        "/hind: over hindsight's (the probability the label was drawn from)",
    )
    out.add_column("stage", no_wrap=True)
    out.add_column("scorer", no_wrap=True)
    shown = [c for c in _COLUMNS if c[0] in table.columns]
    for _, label, _ in shown:
        out.add_column(label, justify="right")
    rows = table.loc[table["asset_class"] == "ALL"]
    for _, row in rows.iterrows():
        cells = ["—" if pd.isna(row[c]) else fmt.format(row[c]) for c, _, fmt in shown]
        style = "bold" if row["scorer"] == "model" else None
        out.add_row(row["stage"], row["scorer"], *cells, style=style)
    return out


def importance_table(importance: pd.DataFrame) -> Table:
    """PR-AUC lost on the test window when each family of features is permuted."""
    out = Table(
        title="What each family of features is worth",
        box=box.SIMPLE_HEAD,
        caption="PR-AUC the model loses on the test window when the family's features are "
        "shuffled together; near 0: the model draws nothing from it",
    )
    out.add_column("family", no_wrap=True)
    out.add_column("features", justify="right")
    stages = [c for c in importance.columns if c not in ("family", "features")]
    for stage in stages:
        out.add_column(f"lost, {stage.lower().replace('_', '-')}", justify="right")
    for row in importance.to_dict("records"):
        out.add_row(row["family"], str(row["features"]), *(f"{row[s]:+.4f}" for s in stages))
    return out


def tuning_table(tuned: TuneResult) -> Table:
    """The search: what it chose, and which settings mattered."""
    gain = tuned.best_pr_auc - tuned.baseline_pr_auc
    out = Table(
        title=f"Hyperparameter search: {len(tuned.trials)} trials, validation PR-AUC "
        f"{tuned.baseline_pr_auc:.4f} -> {tuned.best_pr_auc:.4f} ({gain:+.4f})",
        box=box.SIMPLE_HEAD,
        caption="importance: share of the PR-AUC's variance across trials the setting "
        "explains (Optuna's fANOVA)",
    )
    for column in ("setting", "chosen", "importance"):
        out.add_column(column, justify="left" if column == "setting" else "right")
    for name in tuned.searched:
        value = getattr(tuned.params, name)
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        weight = tuned.importance.get(name)
        out.add_row(name, shown, "—" if weight is None else f"{weight:.0%}")
    return out


def train_cmd(
    data: Annotated[Path, typer.Option(help="dataset directory to train on")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
    test_days: Annotated[int, typer.Option(help="trade dates in the test window")] = 40,
    calib_days: Annotated[int, typer.Option(help="trade dates for calibration")] = 20,
    valid_days: Annotated[int, typer.Option(help="trade dates for early stopping")] = 20,
    tune: Annotated[
        bool,
        typer.Option(
            "--tune",
            help="search LightGBM's settings first (Optuna, scored on the validation slice; "
            "FAILCAST_TUNE_TRIALS trials, at most FAILCAST_TUNE_TIMEOUT_SECONDS)",
        ),
    ] = False,
    trials: Annotated[
        int | None, typer.Option(min=1, help="trials of the search (implies --tune)")
    ] = None,
    settled_share: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=1.0,
            help="keep this share of the training slice's settled trades, drawn at random and "
            "weighted back (fails, validation, calibration and test are never sampled); "
            "1: all of them",
        ),
    ] = 1.0,
    importance_rows: Annotated[
        int | None,
        typer.Option(
            min=10_000,
            help="family importance on a sample of this many test rows (every fail kept, "
            "settled rows weighted back): faster, noisier; default: the whole test window",
        ),
    ] = None,
) -> None:
    """Train, evaluate against the baselines and the oracle, log to MLflow, and promote the
    new version to champion only if it beats the current one on the same test window."""
    from training.distributed import dask_training
    from training.train import TrainConfig, train

    settings = get_settings()
    searched = trials or (settings.tune_trials if tune else 0)
    config = TrainConfig(
        test_days=test_days,
        calib_days=calib_days,
        valid_days=valid_days,
        tune_trials=searched,
        tune_timeout_seconds=settings.tune_timeout_seconds,
        dask=dask_training(settings),
        settled_share=settled_share,
        importance_rows=importance_rows,
    )
    with progress_steps("train") as step:
        result = train(data, settings, config, step)
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2, default=str))
        return
    console.print(metrics_table(result.table, f"Test window: {result.sizes['test']:,} snapshots"))
    if settled_share < 1:
        console.print(
            f"trained on {result.sizes['train']:,} snapshots: {settled_share:.0%} of the settled "
            f"trades before the validation slice, weighted ×{1 / settled_share:.2f}, and every fail"
        )
    causes = ", ".join(f"{k} {v:.0%}" for k, v in result.cause_accuracy.items())
    console.print(f"predicted cause, accuracy on failed trades: {causes}")
    console.print(importance_table(result.importance))
    if result.tuned is not None:
        console.print(tuning_table(result.tuned))
    against = (
        "no champion yet"
        if result.champion_score is None
        else f"champion PR-AUC {result.champion_score:.4f} on the same window"
    )
    console.print(
        f"registered settlement-fail version {result.version} as [bold]{result.decision}[/] "
        f"(PR-AUC {result.score:.4f}; {against}); MLflow run {result.run_id}"
    )


def evaluate_cmd(
    data: Annotated[Path, typer.Option(help="dataset directory to score")],
    model: Annotated[
        str | None, typer.Option(help="model URI (default models:/settlement-fail@champion)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """Score a dataset with a registered model and print the same metrics as training."""
    from training.assess import evaluate_dataset

    with progress_steps("evaluate") as step:
        table, causes = evaluate_dataset(data, model, get_settings(), step)
    if as_json:
        payload = {"metrics": json.loads(table.to_json(orient="records")), "cause": causes}
        typer.echo(json.dumps(payload, indent=2))
        return
    console.print(metrics_table(table, f"{data}: every settled or failed trade"))
    console.print(
        "predicted cause, accuracy on failed trades: "
        + ", ".join(f"{k} {v:.0%}" for k, v in causes.items())
    )
