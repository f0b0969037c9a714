"""Training at scale and the model-quality bar on the default world (250 days × 4,000/day).

One run in a fresh process (training is long; its figures vary little between runs): the
feature build, then `train` (historical retrieval of every (trade, stage), LightGBM, baselines,
evaluation, MLflow), with the model beside the oracle and both baselines on the last 40 days.
Targets: training <= 300 s; PR-AUC >= 0.90 × the oracle's at execution and × hindsight's
(p_fail_final) at ISD-1, where the ISD-1 oracle is printed beside it; beats
both baselines on PR-AUC and recall@5%; calibration error <= 0.01.

    python -m benchmarks.training [--data DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks._child import dataset, run_child
from core.runtime import quiet_libraries

TARGET_TRAIN_SECONDS = 300.0
DEFAULT_WORLD_TRADES = 1_000_000  # 250 days × 4,000/day

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from features.build import build_features
from core.settings import Settings
from training.train import train
data, home = Path(sys.argv[1]), Path(sys.argv[2])
settings = Settings(home=home, feast_project="bench_training")
t0 = time.perf_counter(); build_features(data, settings); build = time.perf_counter() - t0
t0 = time.perf_counter(); result = train(data, settings); seconds = time.perf_counter() - t0
print(json.dumps({"build_s": build, "train_s": seconds, "parts": result.seconds,
                  "sizes": result.sizes, "cause": result.cause_accuracy,
                  "table": json.loads(result.table.to_json(orient="records")),
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def _get(table: list[dict], scorer: str, stage: str, metric: str) -> float:
    for row in table:
        if (row["scorer"], row["stage"], row["asset_class"]) == (scorer, stage, "ALL"):
            return row.get(metric) or float("nan")
    return float("nan")


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="reuse a default-world dataset")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        data = dataset(args.data, Path(tmp), DEFAULT_WORLD_TRADES, console)
        out = run_child(_CHILD, data, Path(tmp) / "home")
    console.print({k: v for k, v in out.items() if k != "table"})
    t = out["table"]
    ok = lambda b: "✓" if b else "✗"  # noqa: E731
    table = Table(title=f"Training on {sum(out['sizes'].values()):,} labelled snapshots")
    for col in ("figure", "value", "target"):
        table.add_column(col)
    table.add_row("feature build (s)", f"{out['build_s']:.0f}", "")
    table.add_row(
        "train: retrieval + fit + evaluate + log (s)",
        f"{out['train_s']:.0f}",
        f"<= {TARGET_TRAIN_SECONDS:.0f} {ok(out['train_s'] <= TARGET_TRAIN_SECONDS)}",
    )
    table.add_row("peak memory (GB)", f"{out['peak_gb']:.1f}", "")
    # The targets as the issue sets them: execution against the oracle, ISD-1 against
    # hindsight (the probability the label was drawn from); the ISD-1 oracle, beside them,
    # shows what any model can reach.
    for stage, reference, targeted in (
        ("EXECUTION", "oracle", True),
        ("ISD_1", "hindsight", True),
        ("ISD_1", "oracle", False),
    ):
        ratio = _get(t, "model", stage, f"pr_auc_vs_{reference}")
        table.add_row(
            f"PR-AUC model / {reference}, {stage}",
            f"{_get(t, 'model', stage, 'pr_auc'):.3f} / "
            f"{_get(t, reference, stage, 'pr_auc'):.3f} = {ratio:.2f}",
            f">= 0.90 {ok(ratio >= 0.9)}" if targeted else "",
        )
    ceiling = _get(t, "oracle", "ISD_1", "pr_auc_vs_hindsight")
    table.add_row("PR-AUC oracle / hindsight, ISD_1 (best any model can do)", f"{ceiling:.2f}", "")
    for stage in ("EXECUTION", "CUTOFF", "ISD_1", "ALL"):
        model = [_get(t, "model", stage, m) for m in ("pr_auc", "recall_at_5pct")]
        rule = [_get(t, "ops_rule", stage, m) for m in ("pr_auc", "recall_at_5pct")]
        logistic = [_get(t, "logistic", stage, m) for m in ("pr_auc", "recall_at_5pct")]
        beats = all(m > max(r, lg) for m, r, lg in zip(model, rule, logistic, strict=True))
        table.add_row(
            f"{stage}: PR-AUC, recall@5% (model | rule | logistic)",
            " | ".join(f"{a:.3f}, {b:.0%}" for a, b in (model, rule, logistic)),
            f"beats both {ok(beats)}",
        )
    ece = _get(t, "model", "ALL", "ece")
    table.add_row("expected calibration error", f"{ece:.4f}", f"<= 0.01 {ok(ece <= 0.01)}")
    table.add_row("cause accuracy on failed trades", f"{out['cause']['ALL']:.0%}", "")
    console.print(table)


if __name__ == "__main__":
    main()
