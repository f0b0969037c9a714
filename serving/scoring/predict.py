"""Raw scores of a LightGBM booster, compiled: the cause booster's one-trade call.

For one trade, nearly all of ``Booster.predict``'s time is per-call overhead. Walking the
same trees in compiled code, with LightGBM's own decisions at each node
(``serving.scoring.explain``), gives the same raw scores in a fraction of it. Batches still go
to LightGBM, which is faster there.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numba
import numpy as np

from serving.scoring.explain import Arrays, NodeTable, go_right

__all__ = ["TreePredictor"]


class TreePredictor:
    """Raw scores (one column per class) of a booster, equal to ``predict(raw_score=True)``."""

    def __init__(self, booster: lgb.Booster) -> None:
        dump = booster.dump_model()
        self.n_features = booster.num_feature()
        self.n_outputs = int(dump.get("num_tree_per_iteration", 1))
        table = NodeTable()
        left: list[int] = []
        right: list[int] = []
        leaf_value: list[float] = []

        def visit(node: dict[str, Any]) -> int:
            """The node's code: its index if internal, ~(leaf index) for a leaf."""
            if "leaf_value" in node:
                leaf_value.append(float(node["leaf_value"]))
                return ~(len(leaf_value) - 1)
            index = table.add(node)
            left.append(0)
            right.append(0)
            left[index] = visit(node["left_child"])
            right[index] = visit(node["right_child"])
            return index

        roots = [visit(info["tree_structure"]) for info in dump["tree_info"]]
        self._nodes = table.packed()
        cat_of_node = np.full(len(left), -1, dtype=np.int64)
        cat_nodes = self._nodes[4]
        cat_of_node[cat_nodes] = np.arange(cat_nodes.size)
        self._trees = (
            np.asarray(roots, dtype=np.int64),
            np.arange(len(roots), dtype=np.int64) % self.n_outputs,  # each tree's class
            np.asarray(left, dtype=np.int64),
            np.asarray(right, dtype=np.int64),
            np.asarray(leaf_value, dtype=np.float64),
            cat_of_node,
        )

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw scores of each row of ``x`` (n × features): n × outputs."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"expected a 2-d array with {self.n_features} feature columns, got shape {x.shape}"
            )
        out = np.zeros((x.shape[0], self.n_outputs))
        _raw(x, self._nodes, *self._trees, out)
        return out


@numba.njit(cache=True)
def _raw(
    x: np.ndarray,
    nodes: Arrays,
    roots: np.ndarray,
    tree_output: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    leaf_value: np.ndarray,
    cat_of_node: np.ndarray,
    out: np.ndarray,
) -> None:
    for r in range(x.shape[0]):
        row = x[r]
        for t in range(roots.size):
            code = roots[t]
            while code >= 0:
                code = right[code] if go_right(row, code, nodes, cat_of_node) else left[code]
            out[r, tree_output[t]] += leaf_value[~code]
