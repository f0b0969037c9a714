"""How the model holds up on books it was not built for: the world zoo
(``features.data.simulator.zoo``), each world trained and measured against its own oracle.

    python -m benchmarks.generalisation [--only NAME ...] [--days 250] [--trades-per-day 2000]
                                        [--cache DIR] [--homes DIR] [--out results.json]
                                        [--tune-trials N]

Per world, in a fresh process: simulate (kept in ``--cache``, so a later run with other
features reuses the worlds), build the features, `failcast train` with its defaults, and read
the evaluation on the test window. Printed per world: PR-AUC of the model over the oracle's at
execution and over the ISD-1 oracle's on ISD-1, the same ratio for logistic regression and the
ops rule at execution, recall in the riskiest 5% (model | best baseline), calibration error,
cause accuracy, and which families of features matter most (PR-AUC lost when a family is
permuted). Then the worst row of each figure. ``--tune-trials N`` trains each world as
`failcast train --trials N` does (an Optuna search on the validation slice first) and prints
the search's gain on the validation slice and the parameters it chose.

Quality bar per world: model / oracle >= 0.92 at execution and >= 0.88 on ISD-1; the model
beats logistic regression and the ops rule on PR-AUC and recall@5% at every stage; ECE <= 0.01.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks._child import run_child, written_whole
from core.runtime import quiet_libraries
from features.data.simulator import SimulationConfig
from features.data.simulator.zoo import ZooWorld, zoo

TARGET_EXECUTION, TARGET_ISD_1, TARGET_ECE = 0.92, 0.88, 0.01
STAGES = ("EXECUTION", "CUTOFF", "ISD_1")

_SIMULATE = """
import sys
from pathlib import Path
from features.data.contract import write_dataset
from features.data.simulator import SimulationConfig, simulate
config = SimulationConfig.model_validate_json(Path(sys.argv[1]).read_text())
write_dataset(simulate(config), Path(sys.argv[2]))
"""

_TRAIN = """
import json, resource, sys, time
from pathlib import Path
from core.runtime import quiet_libraries
quiet_libraries()
from core.settings import Settings
from features.build import build_features
from training.train import TrainConfig, train
data, home, trials = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
settings = Settings(home=home, feast_project="zoo")
t0 = time.perf_counter(); build_features(data, settings); build = time.perf_counter() - t0
result = train(data, settings, TrainConfig(tune_trials=trials))
out = result.summary()
out["build_s"] = build
out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out, default=str))
"""


def _cached_world(world: ZooWorld, cache: Path) -> Path:
    """The world's dataset, simulated once per configuration (written whole: a world
    directory exists only once every table is in it)."""
    text = world.config.model_dump_json()
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    out = cache / f"{world.name.replace(' ', '_').replace('×', 'x')}-{digest}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        spec = cache / f".{digest}.json"
        spec.write_text(text)
        written_whole(out, lambda partial: run_child(_SIMULATE, spec, partial))
    return out


def _get(summary: dict[str, Any], scorer: str, stage: str, metric: str) -> float:
    for row in summary["metrics"]:
        if (row["scorer"], row["stage"], row["asset_class"]) == (scorer, stage, "ALL"):
            value = row.get(metric)
            return float("nan") if value is None else float(value)
    return float("nan")


def figures(summary: dict[str, Any]) -> dict[str, float]:
    """The benchmark's figures of one world's training summary."""
    g = lambda *a: _get(summary, *a)  # noqa: E731
    out = {
        "exec_ratio": g("model", "EXECUTION", "pr_auc_vs_oracle"),
        "isd1_ratio": g("model", "ISD_1", "pr_auc_vs_oracle"),
        "logistic_ratio": g("logistic", "EXECUTION", "pr_auc_vs_oracle"),
        "rule_ratio": g("ops_rule", "EXECUTION", "pr_auc_vs_oracle"),
        "exec_pr_auc": g("model", "EXECUTION", "pr_auc"),
        "oracle_pr_auc": g("oracle", "EXECUTION", "pr_auc"),
        "ece": g("model", "ALL", "ece"),
        "cause": float(summary["cause_accuracy"]["ALL"]),
        "recall5": g("model", "EXECUTION", "recall_at_5pct"),
        "baseline_recall5": max(
            g("logistic", "EXECUTION", "recall_at_5pct"),
            g("ops_rule", "EXECUTION", "recall_at_5pct"),
        ),
    }
    out["beats_baselines"] = float(
        all(
            g("model", stage, metric)
            > max(g("logistic", stage, metric), g("ops_rule", stage, metric))
            for stage in STAGES
            for metric in ("pr_auc", "recall_at_5pct")
        )
    )
    return out


def passes(f: dict[str, float]) -> bool:
    return (
        f["exec_ratio"] >= TARGET_EXECUTION
        and f["isd1_ratio"] >= TARGET_ISD_1
        and f["ece"] <= TARGET_ECE
        and f["beats_baselines"] == 1.0
    )


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="*", help="names of the worlds to run, in this order (default: all)"
    )
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--trades-per-day", type=int, default=2_000)
    parser.add_argument("--cache", type=Path, default=Path(".failcast/zoo"))
    parser.add_argument(
        "--homes", type=Path, help="where each world's project home goes (default: CACHE/homes)"
    )
    parser.add_argument("--out", type=Path, help="write every world's figures as JSON")
    parser.add_argument(
        "--tune-trials", type=int, default=0, help="an Optuna search of N trials per world first"
    )
    args = parser.parse_args()
    console = Console()
    base = SimulationConfig(days=args.days, trades_per_day=args.trades_per_day)
    known = {w.name: w for w in zoo(base)}
    unknown = set(args.only or ()) - set(known)
    if unknown:
        raise SystemExit(f"unknown worlds {sorted(unknown)}; known: {[w.name for w in zoo(base)]}")
    worlds = [known[name] for name in args.only] if args.only else list(known.values())

    results: dict[str, dict[str, Any]] = {}
    with Progress(console=console) as progress:
        task = progress.add_task("world zoo", total=len(worlds))
        for world in worlds:
            progress.update(task, description=f"{world.name}: simulate")
            data = _cached_world(world, args.cache)
            progress.update(task, description=f"{world.name}: build and train")
            t0 = time.perf_counter()
            home = (args.homes or args.cache / "homes") / data.name
            summary = run_child(_TRAIN, data, home, args.tune_trials)
            results[world.name] = {
                "about": world.about,
                "seconds": time.perf_counter() - t0,
                "peak_gb": summary["peak_gb"],
                "importance": summary.get("family_importance", {}),
                "tuning": summary.get("tuning"),
                **figures(summary),
            }
            progress.console.print(
                f"{world.name}: execution {results[world.name]['exec_ratio']:.2f} × oracle, "
                f"ISD-1 {results[world.name]['isd1_ratio']:.2f}"
            )
            if tuning := summary.get("tuning"):
                pr_auc, chosen = tuning["valid_pr_auc"], tuning["chosen"]
                progress.console.print(
                    f"  tuned: {tuning['trials']} trials, validation PR-AUC "
                    f"{pr_auc['start']:.4f} -> {pr_auc['best']:.4f}; chosen {chosen}; "
                    f"what mattered {tuning['importance']}"
                )
            progress.advance(task)
            if args.out:  # after every world: a long run stopped midway keeps what it measured
                args.out.write_text(json.dumps(results, indent=2))
    console.print(_table(results, f"{args.days} days × {args.trades_per_day:,} trades a day"))


def _table(results: dict[str, dict[str, Any]], size: str) -> Table:
    ok = lambda good: "[green]✓[/]" if good else "[red]✗[/]"  # noqa: E731
    table = Table(title=f"The model on the world zoo ({size}; each ratio to that world's oracle)")
    for column in (
        "world",
        "exec.",
        "ISD-1",
        "logistic",
        "ops rule",
        "rec@5% (base)",
        "ECE",
        "cause",
        "families that matter",
        "",
    ):
        table.add_column(
            column, justify="left" if column in ("world", "families that matter") else "right"
        )
    for name, f in results.items():
        top = sorted(f["importance"].items(), key=lambda kv: -kv[1])[:3]
        table.add_row(
            name,
            f"{f['exec_ratio']:.2f}",
            f"{f['isd1_ratio']:.2f}",
            f"{f['logistic_ratio']:.2f}",
            f"{f['rule_ratio']:.2f}",
            f"{f['recall5']:.0%} ({f['baseline_recall5']:.0%})",
            f"{f['ece']:.4f}",
            f"{f['cause']:.0%}",
            ", ".join(f"{k} {v:.3f}" for k, v in top),
            ok(passes(f)),
        )
    for figure, label, worst in (
        ("exec_ratio", "lowest exec. / oracle", min),
        ("isd1_ratio", "lowest ISD-1 / oracle", min),
        ("ece", "highest ECE", max),
    ):
        name = worst(results, key=lambda n: results[n][figure])
        table.add_row(f"[bold]{label}[/]: {name}", f"{results[name][figure]:.4g}")
    return table


if __name__ == "__main__":
    main()
