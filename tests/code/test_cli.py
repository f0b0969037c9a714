"""The `failcast` command line, end to end through its real entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from core.vocabulary import CPTY_TYPES
from pipelines.cli import app

runner = CliRunner()


def test_simulate_validate_and_summarise(tmp_path: Path) -> None:
    out = tmp_path / "world"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--out",
            str(out),
            "--days",
            "10",
            "--trades-per-day",
            "200",
            "--replicas",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    assert (out / "truth.parquet").exists()

    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output

    result = runner.invoke(app, ["data", "summary", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    keys = {t["key"] for t in payload["targets"]}
    assert {"fail_rate_count", "affirmed_by_cutoff_t1", "top10_cpty_fail_share"} <= keys
    assert 0 < payload["figures"]["fail_rate_count"] < 1


def test_validate_exits_non_zero_naming_the_problem(small_dir: Path) -> None:
    table = pq.read_table(small_dir / "trades.parquet").drop_columns(["side"])
    pq.write_table(table, small_dir / "trades.parquet")
    result = runner.invoke(app, ["validate", str(small_dir)])
    assert result.exit_code == 1
    assert "trades.parquet, column 'side': required column is missing" in result.output


def test_import_converts_csv_to_parquet_after_validation(small_dir: Path, tmp_path: Path) -> None:
    from features.data.contract import read_dataset

    holidays = read_dataset(small_dir, tables=["holidays"])["holidays"]
    (small_dir / "holidays.parquet").unlink()
    holidays.to_csv(small_dir / "holidays.csv", index=False, date_format="%Y-%m-%d")
    out = tmp_path / "imported"
    result = runner.invoke(app, ["data", "import", str(small_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "holidays.parquet").exists() and not (out / "holidays.csv").exists()


def test_ingest_sec_ftd_writes_the_daily_table(sec_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ingest", "sec-ftd", str(sec_dir / "cnsfails202212a.txt"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "sec_ftd.parquet").to_pandas()
    assert len(table) == 57_942
    assert {"settlement_date", "cusip", "symbol", "fails_quantity", "price", "fails_value"} <= set(
        table.columns
    )


def test_ingest_rejects_a_truncated_file_and_keeps_the_old_table(tmp_path: Path) -> None:
    from tests.code.test_sec_ftd import ROWS, _write

    good = _write(tmp_path, ROWS, name="cnsfails202301a.txt")
    store = tmp_path / "store"
    assert runner.invoke(app, ["ingest", "sec-ftd", str(good), "--out", str(store)]).exit_code == 0
    before = (store / "sec_ftd.parquet").read_bytes()
    bad = _write(tmp_path, ROWS[:1], count=3, total=1200, name="cnsfails202301b.txt")
    result = runner.invoke(app, ["ingest", "sec-ftd", str(bad), "--out", str(store)])
    assert result.exit_code == 1
    assert "trailer record count is 3 but the file holds 1 records" in result.output
    assert (store / "sec_ftd.parquet").read_bytes() == before


def test_installed_console_script_runs() -> None:
    exe = Path(sys.executable).with_name("failcast")
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for command in ("simulate", "validate", "data", "ingest", "train", "serve", "demo"):
        assert command in result.stdout


def test_features_build_then_show(small_dir: Path) -> None:
    result = runner.invoke(app, ["features", "build", "--data", str(small_dir)])
    assert result.exit_code == 0, result.output
    assert "counterparty_history" in result.output
    assert "online store: sqlite" in result.output

    counterparty = pq.read_table(small_dir / "trades.parquet")["counterparty_id"][0].as_py()
    result = runner.invoke(app, ["features", "show", "--counterparty", counterparty])
    assert result.exit_code == 0, result.output
    assert "cpty_fail_rate_30d" in result.output
    assert any(kind in result.output for kind in CPTY_TYPES)  # codes are shown by name

    account = pq.read_table(small_dir / "trades.parquet")["account_id"][0].as_py()
    result = runner.invoke(app, ["features", "show", "--account", account])
    assert result.exit_code == 0, result.output
    assert "acct_cash_fail_rate_90d" in result.output

    result = runner.invoke(app, ["features", "show", "--instrument", "XS0000000000"])
    assert result.exit_code == 1
    assert "no online features for instrument_id 'XS0000000000'" in result.output


def test_features_show_needs_exactly_one_entity() -> None:
    for given in ([], ["--counterparty", "C1", "--account", "A1"]):
        result = runner.invoke(app, ["features", "show", *given])
        assert result.exit_code == 1
        assert "give exactly one of --counterparty, --instrument or --account" in result.output


def test_features_build_names_a_missing_dataset(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "build", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "dataset directory does not exist" in result.output
