"""The raw-data contract: every rule gets a clear error naming file, column, rule and rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import ContractError
from features.data.atomic import write_parquet_files
from features.data.contract import (
    TABLES,
    Dataset,
    arrow_schema,
    dataset_digest,
    read_dataset,
    write_dataset,
)
from features.data.contract._rules import _Parents


def _copy(world: Dataset) -> dict[str, pd.DataFrame]:
    return {k: v.copy() for k, v in world.items()}


def _negative_quantity(d: dict[str, pd.DataFrame]) -> None:
    d["trades"].loc[3, "quantity"] = -5.0


def _duplicate_trade(d: dict[str, pd.DataFrame]) -> None:
    d["trades"].loc[4, "trade_id"] = d["trades"].loc[2, "trade_id"]


def _settle_before_trade(d: dict[str, pd.DataFrame]) -> None:
    t = d["trades"]
    t.loc[5, "settlement_date"] = t.loc[5, "trade_date"] - pd.Timedelta(days=3)


def _unknown_outcome(d: dict[str, pd.DataFrame]) -> None:
    d["outcomes"].loc[0, "trade_id"] = "T99999999"


def _unknown_event_trade(d: dict[str, pd.DataFrame]) -> None:
    d["events"].loc[7, "trade_id"] = "T99999999"


def _unknown_instrument(d: dict[str, pd.DataFrame]) -> None:
    d["trades"].loc[2, "instrument_id"] = "I-NOT-LISTED"


def _event_before_execution(d: dict[str, pd.DataFrame]) -> None:
    e, t = d["events"], d["trades"].set_index("trade_id")
    e.loc[9, "event_ts"] = t.loc[e.loc[9, "trade_id"], "execution_ts"] - pd.Timedelta(minutes=1)


def _unknown_enum(d: dict[str, pd.DataFrame]) -> None:
    d["trades"].loc[1, "side"] = "SHORT"


def _early_known_ts(d: dict[str, pd.DataFrame]) -> None:
    o = d["outcomes"]
    o.loc[0, "known_ts"] = o.loc[0, "known_ts"] - pd.Timedelta(days=2)


def _reason_for_settled(d: dict[str, pd.DataFrame]) -> None:
    o = d["outcomes"]
    row = o.index[o["status"] == "SETTLED"][0]
    o.loc[row, "fail_reason"] = "OTHER"


def _control_character_in_desk(d: dict[str, pd.DataFrame]) -> None:
    d["trades"].loc[6, "desk_id"] = "EQ\x1fDESK"


def _long_account(d: dict[str, pd.DataFrame]) -> None:
    d["trades"].loc[3, "account_id"] = "Ä" * 65  # 65 characters, 130 bytes


def _account_at_the_limit(d: dict[str, pd.DataFrame]) -> None:
    d["trades"].loc[3, "account_id"] = "Ä" * 64  # 64 characters are allowed, 128 bytes too
    d["trades"].loc[4, "account_id"] = "T" * 65  # ... but not 65 of any kind


@pytest.mark.parametrize(
    ("mutate", "file", "column", "rule"),
    [
        (_negative_quantity, "trades.parquet", "quantity", "must be > 0"),
        (_duplicate_trade, "trades.parquet", "trade_id", r"\(trade_id\) must be unique"),
        (
            _settle_before_trade,
            "trades.parquet",
            "settlement_date",
            "must be on or after trade_date",
        ),
        (
            _unknown_outcome,
            "outcomes.parquet",
            "trade_id",
            "must refer to a known trade_id in trades.parquet",
        ),
        (
            _unknown_event_trade,
            "events.parquet",
            "trade_id",
            "must refer to a known trade_id in trades.parquet",
        ),
        (
            _unknown_instrument,
            "trades.parquet",
            "instrument_id",
            "must refer to a known instrument_id in instruments.parquet",
        ),
        (
            _event_before_execution,
            "events.parquet",
            "event_ts",
            "must not precede the trade's execution_ts; 1 of",
        ),
        (_unknown_enum, "trades.parquet", "side", r"must be one of \{BUY, SELL\}"),
        (_control_character_in_desk, "trades.parquet", "desk_id", "must be printable"),
        (_long_account, "trades.parquet", "account_id", "must be at most 64 characters"),
        (
            _account_at_the_limit,
            "trades.parquet",
            "account_id",
            "at most 64 characters; 1 of [0-9,]+ rows break it",
        ),
        (
            _early_known_ts,
            "outcomes.parquet",
            "known_ts",
            "must be at or after the end of the trade's settlement_date",
        ),
        (
            _reason_for_settled,
            "outcomes.parquet",
            "fail_reason",
            "must be given for FAILED outcomes and only",
        ),
    ],
)
def test_write_dataset_rejects_rule_breaks_and_writes_nothing(
    tmp_path: Path, small_world: Dataset, mutate: Callable, file: str, column: str, rule: str
) -> None:
    bad = _copy(small_world)
    mutate(bad)
    out = tmp_path / "out"
    with pytest.raises(ContractError, match=rule) as info:
        write_dataset(bad, out)
    message = str(info.value)
    assert f"{file}, column '{column}'" in message
    assert "First offending rows" in message
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no staging directory left behind


def test_read_dataset_reports_missing_column_with_expected_columns(small_dir: Path) -> None:
    table = pq.read_table(small_dir / "trades.parquet").drop_columns(["price"])
    pq.write_table(table, small_dir / "trades.parquet")
    with pytest.raises(
        ContractError, match=r"trades.parquet, column 'price': required column is missing"
    ):
        read_dataset(small_dir)


def test_a_validated_dataset_is_read_unchecked_only_while_its_bytes_are_those(
    small_dir: Path,
) -> None:
    digest = dataset_digest(small_dir)
    checked, trusted = read_dataset(small_dir), read_dataset(small_dir, validated=digest)
    assert checked.keys() == trusted.keys()
    for name, frame in checked.items():
        pd.testing.assert_frame_equal(trusted[name], frame)
    # a rule broken after the validation: other bytes, so the rules run again
    trades = pq.read_table(small_dir / "trades.parquet").to_pandas()
    trades.loc[0, "quantity"] = -trades.loc[0, "quantity"]
    pq.write_table(
        pa.Table.from_pandas(trades, schema=arrow_schema(TABLES["trades"]), preserve_index=False),
        small_dir / "trades.parquet",
    )
    assert dataset_digest(small_dir) != digest
    for validated in (digest, "0" * 64, None):
        with pytest.raises(ContractError, match="must be > 0"):
            read_dataset(small_dir, validated=validated)
    # the caller's own hash of the bytes is what is matched, in place of one taken here
    with pytest.raises(ContractError, match="must be > 0"):
        read_dataset(small_dir, validated=digest, digest=dataset_digest(small_dir))
    vouched = read_dataset(small_dir, validated=digest, digest=digest)  # no hash taken here
    assert vouched["trades"].loc[0, "quantity"] == trades.loc[0, "quantity"]
    # the digest of these very bytes is trusted: the rules are skipped, which is what a
    # build's record spares training (the build validated the bytes it recorded)
    now = dataset_digest(small_dir)
    for given in (None, now):
        read = read_dataset(small_dir, validated=now, digest=given)
        assert read["trades"].loc[0, "quantity"] == trades.loc[0, "quantity"]


def _recast(path: Path, column: str, typ: pa.DataType) -> None:
    """Rewrite one Parquet column with another Arrow type."""
    table = pq.read_table(path)
    index = table.schema.get_field_index(column)
    pq.write_table(table.set_column(index, column, table[column].cast(typ)), path)


@pytest.mark.parametrize(
    ("file", "column", "typ", "rule"),
    [
        (
            "trades",
            "quantity",
            pa.string(),
            r"column 'quantity': must be a float; found Parquet type string",
        ),
        (
            "events",
            "event_ts",
            pa.timestamp("us"),
            r"events.parquet, column 'event_ts': .*found a naive timestamp",
        ),
        (
            "trades",
            "is_block",
            pa.int64(),
            r"column 'is_block': must be a boolean; found Parquet type int64",
        ),
    ],
)
def test_read_dataset_reports_wrong_parquet_types(
    small_dir: Path, file: str, column: str, typ: pa.DataType, rule: str
) -> None:
    _recast(small_dir / f"{file}.parquet", column, typ)
    with pytest.raises(ContractError, match=rule):
        read_dataset(small_dir)


def _to_csv(directory: Path, name: str) -> Path:
    frame = read_dataset(directory, tables=[name])[name]
    (directory / f"{name}.parquet").unlink()
    path = directory / f"{name}.csv"
    frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    return path


def test_csv_dataset_reads_like_parquet(small_dir: Path, small_world: Dataset) -> None:
    _to_csv(small_dir, "instruments")
    lines = (small_dir / "instruments.csv").read_text().splitlines()
    # Dates in CSV are ISO 8601 calendar dates.
    header = lines[0].split(",")
    col = header.index("issue_date")
    (small_dir / "instruments.csv").write_text(
        "\n".join(
            [lines[0]]
            + [
                ",".join(v if i != col else v[:10] for i, v in enumerate(line.split(",")))
                for line in lines[1:]
            ]
        )
    )
    loaded = read_dataset(small_dir)
    pd.testing.assert_frame_equal(
        loaded["instruments"], small_world["instruments"], check_dtype=True
    )


def test_csv_naive_timestamps_are_rejected_with_line_numbers(small_dir: Path) -> None:
    path = _to_csv(small_dir, "events")
    lines = path.read_text().splitlines()
    first = lines[1].split(",")
    first[1] = first[1][:26]  # drop the +0000 offset
    lines[1] = ",".join(first)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ContractError, match=r"(?s)events.csv, column 'event_ts': must be a timezone-aware.*line 2"
    ):
        read_dataset(small_dir)


def test_csv_unparseable_number_names_the_line(small_dir: Path) -> None:
    path = _to_csv(small_dir, "trades")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[3].split(",")
    row[header.index("price")] = "abc"
    lines[3] = ",".join(row)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ContractError,
        match=r"(?s)trades.csv, column 'price': must be a number.*line 4 .*price='abc'",
    ):
        read_dataset(small_dir)


def test_missing_required_table_and_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="dataset directory does not exist"):
        read_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ContractError, match=r"trades\.parquet: required table is missing"):
        read_dataset(tmp_path / "empty")


def test_failed_write_leaves_existing_dataset_untouched(
    tmp_path: Path, small_world: Dataset
) -> None:
    out = write_dataset(small_world, tmp_path / "stored")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = _copy(small_world)
    _negative_quantity(bad)
    with pytest.raises(ContractError):
        write_dataset(bad, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_table_failing_as_it_is_written_leaves_the_dataset_untouched(
    tmp_path: Path, small_world: Dataset
) -> None:
    """Tables are converted one at a time, as they are written: a failure on a later one,
    after earlier ones are staged, still writes nothing and leaves no staging behind."""
    out = write_dataset(small_world, tmp_path / "stored")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    class FailsOnSecond(Mapping[str, pa.Table]):
        def __init__(self) -> None:
            self.read: list[str] = []

        def __getitem__(self, name: str) -> pa.Table:
            self.read.append(name)
            if len(self.read) == 2:
                raise pa.ArrowInvalid(f"{name}: cannot convert")
            return pa.table({"x": [1, 2]})

        def __iter__(self) -> Iterator[str]:
            return iter(["trades", "events", "outcomes"])

        def __len__(self) -> int:
            return 3

    tables = FailsOnSecond()
    with pytest.raises(pa.ArrowInvalid, match="events: cannot convert"):
        write_parquet_files(tables, out)
    assert tables.read == ["trades", "events"], "each table read once, as it is written"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    staged = [p.name for p in tmp_path.iterdir() if p.name.startswith(".stored-")]
    assert staged == [], "no staging directory left"


def test_every_violation_is_reported_not_just_the_first(
    small_world: Dataset, tmp_path: Path
) -> None:
    bad = _copy(small_world)
    _negative_quantity(bad)
    _unknown_enum(bad)
    with pytest.raises(ContractError) as info:
        write_dataset(bad, tmp_path / "out")
    assert {v.column for v in info.value.violations} >= {"quantity", "side"}


def test_written_parquet_uses_contract_types(small_dir: Path) -> None:
    schema = pq.read_schema(small_dir / "trades.parquet")
    assert schema.field("trade_date").type == pa.date32()
    assert schema.field("execution_ts").type == pa.timestamp("us", tz="UTC")
    assert set(TABLES["trades"].column_names) == set(schema.names)


def test_cross_table_lookups_take_the_first_row_of_a_duplicated_parent_key() -> None:
    # duplicates are refused before the cross-table rules run; should they reach them, each
    # child row still finds a row of its parent, never another key's
    frames = {
        "trades": pd.DataFrame({"trade_id": ["A", "B", "A", "C"], "x": [1.0, 2.0, 3.0, 4.0]}),
        "events": pd.DataFrame({"trade_id": ["C", "A", "Z", "B"]}),
    }
    parents = _Parents(frames)
    assert parents.positions("events", "trade_id", "trades", "trade_id").tolist() == [3, 0, -1, 1]
    assert parents.trade_column("events", "x").tolist()[:2] == [4.0, 1.0]
    assert pd.isna(parents.trade_column("events", "x").iloc[2])
