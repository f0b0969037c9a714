"""`make demo`: the main job end to end on embedded defaults.

Today: simulate a world, validate it as written, print its calibration table. Later stages
(features, training, serving, the exception queue) extend this flow.
"""

from __future__ import annotations

from features.contract import read_dataset, write_dataset
from features.settings import get_settings
from features.simulator import SimulationConfig, simulate
from features.summary import summarise
from pipelines.console import calibration_table, console, progress_steps

__all__ = ["DEMO_WORLD", "run_demo"]

# A year of trading that spans the T+1 switch, at a quarter of the default world's volume.
DEMO_WORLD = {"days": 250, "trades_per_day": 1_000}


def run_demo() -> None:
    settings = get_settings()
    out = settings.data_dir / "demo"
    config = SimulationConfig(**DEMO_WORLD, sec_ftd_dir=settings.sec_ftd_dir)
    source = (
        f"SEC fails-to-deliver files in {config.sec_ftd_dir}"
        if config.sec_ftd_dir
        else "synthetic US equities"
    )
    console.rule("failcast demo")
    console.print(
        f"simulating {config.days} business days x ~{config.trades_per_day:,} trades/day ({source})"
    )
    with progress_steps("simulate") as step:
        dataset = simulate(config, on_step=step)
    write_dataset(dataset, out)
    dataset = read_dataset(out)  # read back through the contract, as any consumer would
    console.print(f"[green]valid[/] dataset: {len(dataset['trades']):,} trades in {out}")
    summary = summarise(dataset)
    console.print(calibration_table(summary))
    verdict = (
        "[green]every calibration target met[/]"
        if summary.all_targets_met
        else "[red]targets missed[/]"
    )
    console.print(verdict)
