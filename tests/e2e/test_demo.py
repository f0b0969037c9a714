"""`make demo`'s job end to end on a small world: data and its calibration, features,
a champion, a day of operations through the service, the queue, the report and the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()


def test_demo_prints_the_calibration_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import pipelines.demo
    from training.train import TrainConfig

    monkeypatch.setattr(
        pipelines.demo, "DEMO_WORLD", {"days": 40, "trades_per_day": 300, "replicas": 4}
    )
    monkeypatch.setattr(
        pipelines.demo, "DEMO_TRAINING", TrainConfig(test_days=8, calib_days=4, valid_days=4)
    )
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "Calibration of" in result.output
    assert "affirmed by cutoff, T+1 trades" in result.output
    assert (tmp_path / "home" / "data" / "demo" / "trades.parquet").exists()
    assert "Online features of the last trades" in result.output
    assert (tmp_path / "home" / "features" / "tables" / "manifest.json").exists()
    assert "registered settlement-fail version 1 as champion" in result.output
    assert "a day of operations" in result.output
    said = " ".join(result.output.split())  # rich wraps lines at the terminal's width
    assert re.search(r"scored [\d,]+ undecided trades in the morning and [\d,]+ new", said)
    assert re.search(r"[\d,]+ events \([\d,]+ lifecycle", said)
    assert re.search(r"GET http://127.0.0.1:\d+/queue: [\d,]+ open at-risk trades", said)
    report = tmp_path / "home" / "report.html"
    assert "<h1>Trades settling" in report.read_text()
    assert "queue page: http://127.0.0.1:3000/ui" in said
