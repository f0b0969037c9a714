"""`truth` is for evaluation only: nothing else needs it or even reads it."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import numpy as np

from features.data.contract import Dataset, read_dataset, write_dataset
from features.data.summary import summarise
from tests.conftest import REPO

# Modules allowed to mention the truth table: the contract that defines it, the simulator that
# draws it, and evaluation code.
ALLOWED = ("features/data/contract/", "features/data/simulator/", "training/evaluate")


def test_observable_computations_do_not_change_without_truth(
    tmp_path: Path, small_world: Dataset
) -> None:
    with_truth = write_dataset(small_world, tmp_path / "with")
    without = tmp_path / "without"
    shutil.copytree(with_truth, without)
    (without / "truth.parquet").unlink()
    a, b = summarise(read_dataset(with_truth)), summarise(read_dataset(without))
    assert a.figures.keys() == b.figures.keys()
    assert all(np.isclose(a.figures[k], b.figures[k], equal_nan=True) for k in a.figures)


def test_observable_computations_ignore_scrambled_truth(small_world: Dataset) -> None:
    scrambled = dict(small_world)
    truth = small_world["truth"].copy()
    truth["p_fail_final"] = 1.0 - truth["p_fail_final"]
    truth["primary_cause"] = "OTHER"
    scrambled["truth"] = truth
    assert summarise(scrambled).figures == summarise(small_world).figures


TRUTH_NAMES = {
    "truth",
    "truth.parquet",
    "p_fail_final",
    "p_fail_at_execution",
    "p_fail_at_isd_1",
    "primary_cause",
}


def test_no_module_outside_evaluation_reads_truth() -> None:
    offenders = []
    for package in ("core", "features", "training", "serving", "pipelines"):
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel.startswith(ALLOWED):
                continue
            offenders += [
                f"{rel}:{node.lineno} {node.value!r}"
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Constant) and node.value in TRUTH_NAMES
            ]
    assert offenders == [], f"only evaluation may read the truth table: {offenders}"
