"""SEC fails-to-deliver loader: the real files, and hand-made files for every error path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.errors import SecFtdFormatError
from features.data.sources.sec_ftd import HEADER, ftd_intensity, read_sec_ftd, read_sec_ftd_file

ROWS = [
    "20230103|037833100|AAPL|1200|APPLE INC|125.07",
    "20230103|594918104|MSFT|300|MICROSOFT CORP|239.58",
    "20230104|037833100|AAPL|800|APPLE INC|126.36",
]


def _write(
    tmp_path: Path,
    rows: list[str],
    count: int | None = None,
    total: int | None = None,
    name: str = "cnsfails202301a.txt",
) -> Path:
    count = len(rows) if count is None else count
    total = (
        sum(int(r.split("|")[3]) for r in rows if r.count("|") == 5 and r.split("|")[3].isdigit())
        if total is None
        else total
    )
    path = tmp_path / name
    path.write_text(
        "\n".join(
            [
                HEADER,
                *rows,
                f"Trailer record count {count}",
                f"Trailer total quantity of shares {total}",
            ]
        )
        + "\n"
    )
    return path


def test_real_files_load_with_trailer_counts(sec_dir: Path) -> None:
    table = read_sec_ftd(sec_dir)
    # The trailers of the seven files add up to 408,308 records.
    assert len(table) == 408_308
    assert table["settlement_date"].min() == pd.Timestamp("2022-12-01")
    assert table["settlement_date"].max() == pd.Timestamp("2023-03-14")  # last record in 202303a
    assert table["cusip"].str.len().eq(9).all()
    priced = table["price"].notna()
    assert (
        table.loc[priced, "fails_value"]
        == table.loc[priced, "fails_quantity"] * table.loc[priced, "price"]
    ).all()
    assert not table.duplicated(["settlement_date", "cusip"]).any()


def test_real_files_rank_persistent_failers_highest(sec_dir: Path) -> None:
    per = ftd_intensity(read_sec_ftd(sec_dir / "cnsfails202301a.txt"))
    assert per["rank"].between(0, 1).all()
    top = per.nlargest(50, "rank")
    assert top["share_of_days"].mean() > per["share_of_days"].mean()


def test_hand_made_file_parses_to_daily_table(tmp_path: Path) -> None:
    table = read_sec_ftd_file(_write(tmp_path, ROWS))
    assert list(table["symbol"]) == ["AAPL", "MSFT", "AAPL"]
    assert table.loc[0, "fails_value"] == pytest.approx(1200 * 125.07)


def test_truncated_file_with_wrong_trailer_count_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, ROWS[:2], count=3, total=1500)
    with pytest.raises(
        SecFtdFormatError, match=r"trailer record count is 3 but the file holds 2 records"
    ):
        read_sec_ftd_file(path)


def test_file_cut_before_its_trailer_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cnsfails202301a.txt"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n")
    with pytest.raises(
        SecFtdFormatError, match=r"cnsfails202301a.txt: must end with the trailer lines.*truncated"
    ):
        read_sec_ftd_file(path)


def test_wrong_trailer_total_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(
        SecFtdFormatError, match=r"trailer total quantity is 9 but the records add up to 2,300"
    ):
        read_sec_ftd_file(_write(tmp_path, ROWS, total=9))


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        (
            "2023013|037833100|AAPL|5|APPLE INC|1.0",
            r"column 'SETTLEMENT DATE': must be a date YYYYMMDD.*line 3",
        ),
        (
            "20230103|03783310|AAPL|5|APPLE INC|1.0",
            r"column 'CUSIP': must be a 9-character CUSIP.*line 3",
        ),
        (
            "20230103|037833100|AAPL|-5|APPLE INC|1.0",
            r"column 'QUANTITY \(FAILS\)': must be a non-negative.*line 3",
        ),
        ("20230103|037833100|AAPL|5|APPLE INC|abc", r"column 'PRICE': must be a number.*line 3"),
        (
            "20230103|037833100|AAPL|5|APPLE INC",
            r"every record must have 6 '\|'-separated fields.*line 3",
        ),
    ],
)
def test_malformed_rows_are_reported_with_line_numbers(tmp_path: Path, row: str, rule: str) -> None:
    path = _write(tmp_path, [ROWS[0], row], total=1205)
    with pytest.raises(SecFtdFormatError, match=f"(?s){rule}"):
        read_sec_ftd_file(path)


def test_wrong_header_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cnsfails202301a.txt"
    path.write_text("DATE|CUSIP\n")
    with pytest.raises(SecFtdFormatError, match="line 1 must be the header"):
        read_sec_ftd_file(path)


def test_directory_without_files_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SecFtdFormatError, match="holds no cnsfails"):
        read_sec_ftd(tmp_path)
