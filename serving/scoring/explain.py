"""Exact TreeSHAP for LightGBM boosters, tens of microseconds per trade.

LightGBM's ``pred_contrib`` walks every tree with the recursive TreeSHAP algorithm on each
call, most of a request's budget (``benchmarks/serving.py`` times both). This module computes
the same numbers (path-dependent TreeSHAP, node counts as cover) by moving the combinatorics
to load time, after Fast TreeSHAP v2 (Yang, 2021).

For one leaf with value ``v`` and unique path features ``P`` (|P| = d), each feature has a
cover fraction ``z_j`` (the share of training rows that follow the path at its splits) and,
for a given trade, an indicator ``o_j`` (the trade follows the path at all of them). With
``O = {j : o_j = 1}``, ``Q(O) = prod(z_j, j not in O)`` and, precomputed for every subset T,
``H(T) = sum_{S <= T} |S|! (d-|S|-1)! / d! * prod(z_j, j in T - S)``, the leaf adds

    v * (1 - z_i) * Q(O) * H(O - {i})   to feature i in O,
    -v * Q(O) * H(O)                     to feature i not in O,

and ``v * prod(z_j)`` to the base value. Per trade that is O(leaves × depth) per tree, with no
recursion and no division. Leaves with more than ``TABLE_MAX_DEPTH`` unique features compute
``H`` on the fly instead of storing 2^d entries, in O(d^2): a table read missing every cache
costs more than that arithmetic.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import lightgbm as lgb
import numba
import numpy as np

__all__ = ["TABLE_MAX_DEPTH", "NodeTable", "TreeExplainer", "go_right"]

TABLE_MAX_DEPTH = 6
"""Unique features on a leaf's path up to which its H table (2^d floats) is precomputed.
Deeper leaves compute H on the fly: the tables stay small enough for a request to find them
in cache, and a table read that misses every cache costs more than the arithmetic."""

PARALLEL_MIN_ROWS = 64
"""Batches from this many rows are explained on all cores."""

_ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| below it counts as zero
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


@dataclass(frozen=True)
class _Nodes:
    """Internal nodes of every tree, concatenated."""

    feature: np.ndarray  # int64
    threshold: np.ndarray  # float64; x > threshold goes right (numerical nodes)
    nan_right: np.ndarray  # int64: where a missing value goes
    zero_band: np.ndarray  # int64: |x| <= 1e-35 goes the missing way ("Zero" missing type)
    cat_nodes: np.ndarray  # int64: the categorical nodes
    cat_start: np.ndarray  # int64 per categorical node, into cat_values (categories going left)
    cat_end: np.ndarray  # int64
    cat_values: np.ndarray  # int64


@dataclass(frozen=True)
class _Leaves:
    """Every leaf with its path, unique path features and H table."""

    value: np.ndarray  # float64
    path_start: np.ndarray  # int64 [n_leaves + 1], into the path arrays
    path_node: np.ndarray  # int64: node index in _Nodes
    path_right: np.ndarray  # int64: 1 when the path goes right at that node
    path_slot: np.ndarray  # int64: the node's feature's slot among the leaf's unique features
    slot_start: np.ndarray  # int64 [n_leaves + 1], into the slot arrays
    slot_feature: np.ndarray  # int64
    slot_z: np.ndarray  # float64: cover fraction of the path at that feature's splits
    table_start: np.ndarray  # int64: offset of the leaf's H table, -1 when computed on the fly
    table: np.ndarray  # float64


Arrays = tuple[np.ndarray, ...]
"""Arrays as compiled code takes them: a dataclass's fields in order."""


def _arrays(group: _Nodes | _Leaves) -> Arrays:
    return tuple(getattr(group, name) for name in group.__dataclass_fields__)


class NodeTable:
    """A booster's internal nodes (``dump_model`` dicts) as LightGBM decides at them, in
    the order they are added."""

    def __init__(self) -> None:
        self._nodes: dict[str, list[Any]] = {
            k: [] for k in ("feature", "threshold", "nan_right", "zero_band")
        }
        self._cat: dict[str, list[int]] = {k: [] for k in ("node", "start", "end", "values")}

    def add(self, node: dict[str, Any]) -> int:
        """Append one internal node; its index."""
        nodes, cat = self._nodes, self._cat
        index = len(nodes["feature"])
        nodes["feature"].append(node["split_feature"])
        default_right = not node["default_left"]
        kind = _MISSING[node["missing_type"]]
        if node["decision_type"] == "==":
            # LightGBM 4: a missing or negative category goes right, listed ones go left
            cat["node"].append(index)
            cat["start"].append(len(cat["values"]))
            cat["values"].extend(int(c) for c in str(node["threshold"]).split("||"))
            cat["end"].append(len(cat["values"]))
            nodes["threshold"].append(np.inf)
            nodes["nan_right"].append(True)
            nodes["zero_band"].append(False)
        else:
            threshold = float(node["threshold"])
            nodes["threshold"].append(threshold)
            # missing type None reads NaN as 0; Zero sends NaN and zero the default way
            nodes["nan_right"].append(threshold < 0.0 if kind == 0 else default_right)
            nodes["zero_band"].append(kind == 1)
        return index

    @property
    def feature(self) -> np.ndarray:
        return np.asarray(self._nodes["feature"], dtype=np.int64)

    def packed(self) -> tuple[np.ndarray, ...]:
        """The arrays as compiled code takes them."""
        return _arrays(self.arrays())

    def arrays(self) -> _Nodes:
        nodes, cat, i64 = self._nodes, self._cat, np.int64
        return _Nodes(
            feature=self.feature,
            threshold=np.asarray(nodes["threshold"], dtype=np.float64),
            nan_right=np.asarray(nodes["nan_right"], dtype=i64),
            zero_band=np.asarray(nodes["zero_band"], dtype=i64),
            cat_nodes=np.asarray(cat["node"], dtype=i64),
            cat_start=np.asarray(cat["start"], dtype=i64),
            cat_end=np.asarray(cat["end"], dtype=i64),
            cat_values=np.asarray(cat["values"], dtype=i64),
        )


def _flatten(booster: lgb.Booster, table_max_depth: int) -> tuple[_Nodes, _Leaves, float]:
    dump = booster.dump_model()
    table = NodeTable()
    leaves: list[tuple[float, list[tuple[int, bool]], list[float]]] = []
    base = 0.0

    def visit(node: dict[str, Any], path: list[tuple[int, bool]], ratios: list[float]) -> None:
        """Append internal nodes depth first; collect each leaf with its path."""
        if "leaf_value" in node:
            leaves.append((float(node["leaf_value"]), path, ratios))
            return
        index = table.add(node)
        count = float(node["internal_count"])
        for child, right in ((node["left_child"], False), (node["right_child"], True)):
            child_count = float(child.get("internal_count", child.get("leaf_count", 0)))
            visit(child, [*path, (index, right)], [*ratios, child_count / count])

    if dump.get("num_tree_per_iteration", 1) != 1:
        raise ValueError(
            "TreeExplainer explains single-output models (binary, regression); this booster "
            f"has {dump['num_tree_per_iteration']} trees per iteration"
        )
    for info in dump["tree_info"]:
        root = info["tree_structure"]
        if "leaf_value" in root:  # a one-leaf tree: a constant, all base value
            base += float(root["leaf_value"])
        else:
            visit(root, [], [])

    feature = table.feature
    path_start: list[int] = [0]
    path_node: list[int] = []
    path_right: list[bool] = []
    path_slot: list[int] = []
    slot_start: list[int] = [0]
    slot_feature: list[int] = []
    slot_z: list[float] = []
    table_start: list[int] = []
    tables: list[np.ndarray] = []
    offset = 0
    for value, path, ratios in leaves:
        slots: dict[int, int] = {}
        z: list[float] = []
        for (node, right), ratio in zip(path, ratios, strict=True):
            slot = slots.setdefault(int(feature[node]), len(slots))
            if slot == len(z):
                z.append(1.0)
            z[slot] *= ratio
            path_node.append(node)
            path_right.append(right)
            path_slot.append(slot)
        base += value * float(np.prod(z))
        path_start.append(len(path_node))
        slot_feature.extend(slots)
        slot_z.extend(z)
        slot_start.append(len(slot_feature))
        if len(z) <= table_max_depth:
            tables.append(_h_table(np.asarray(z)))
            table_start.append(offset)
            offset += tables[-1].size
        else:
            table_start.append(-1)
    i64 = np.int64
    leaf_arrays = _Leaves(
        value=np.asarray([leaf[0] for leaf in leaves], dtype=np.float64),
        path_start=np.asarray(path_start, dtype=i64),
        path_node=np.asarray(path_node, dtype=i64),
        path_right=np.asarray(path_right, dtype=i64),
        path_slot=np.asarray(path_slot, dtype=i64),
        slot_start=np.asarray(slot_start, dtype=i64),
        slot_feature=np.asarray(slot_feature, dtype=i64),
        slot_z=np.asarray(slot_z, dtype=np.float64),
        table_start=np.asarray(table_start, dtype=i64),
        table=np.concatenate(tables) if tables else np.zeros(0),
    )
    return table.arrays(), leaf_arrays, base


@numba.njit(cache=True)
def _shapley_weights(d: int) -> np.ndarray:
    """w[k] = k! (d-k-1)! / d! for k < d; w[d] = 0 (a full set is never asked for)."""
    w = np.zeros(d + 1)
    for k in range(d):
        value = 1.0 / d
        # k! (d-k-1)! / d! = 1 / (d * C(d-1, k))
        c = 1.0
        for j in range(k):
            c = c * (d - 1 - j) / (j + 1)
        w[k] = value / c
    return w


@numba.njit(cache=True)
def _h_table(z: np.ndarray) -> np.ndarray:
    """H(T) for every subset T of the leaf's features (bit j of T: feature slot j)."""
    d = z.size
    w = _shapley_weights(d)
    size = 1 << d
    e = np.zeros((size, d + 1))  # elementary symmetric polynomials of z over T
    e[0, 0] = 1.0
    out = np.zeros(size)
    out[0] = w[0]
    for mask in range(1, size):
        low = mask & -mask
        bit = 0
        while (1 << bit) != low:
            bit += 1
        prev = mask ^ low
        e[mask, 0] = 1.0
        for m in range(1, d + 1):
            e[mask, m] = e[prev, m] + z[bit] * e[prev, m - 1]
        n = 0
        rest = mask
        while rest:
            rest &= rest - 1
            n += 1
        total = 0.0
        for m in range(n + 1):
            total += w[n - m] * e[mask, m]
        out[mask] = total
    return out


@numba.njit(cache=True)
def _numerical_right(x: float, threshold: float, nan_right: int, zero_band: int) -> int:
    """LightGBM's NumericalDecision, as selects: 1 when ``x`` goes right."""
    go = int(x > threshold)
    go = nan_right if (zero_band and abs(x) <= _ZERO) else go
    return nan_right if np.isnan(x) else go


@numba.njit(cache=True)
def _categorical_right(x: float, first: int, last: int, cats: np.ndarray) -> int:
    """LightGBM 4's CategoricalDecision: listed categories go left, the rest right."""
    if np.isnan(x) or x < 0:
        return 1
    category = int(x)
    for c in range(first, last):
        if cats[c] == category:
            return 0
    return 1


@numba.njit(cache=True)
def _decide(row: np.ndarray, nodes: Arrays, right: np.ndarray) -> None:
    """LightGBM's decision at every node for one row, as selects rather than branches:
    branches here are mispredicted half the time."""
    feature, threshold, nan_right, zero_band, cat_nodes, cat_start, cat_end, cats = nodes
    for node in range(feature.size):
        right[node] = _numerical_right(
            row[feature[node]], threshold[node], nan_right[node], zero_band[node]
        )
    for k in range(cat_nodes.size):
        right[cat_nodes[k]] = _categorical_right(
            row[feature[cat_nodes[k]]], cat_start[k], cat_end[k], cats
        )


@numba.njit(cache=True)
def go_right(row: np.ndarray, node: int, nodes: Arrays, cat_of_node: np.ndarray) -> int:
    """LightGBM's decision at one node (``cat_of_node``: its index among the categorical
    nodes, or -1)."""
    feature, threshold, nan_right, zero_band, _, cat_start, cat_end, cats = nodes
    x = row[feature[node]]
    k = cat_of_node[node]
    if k >= 0:
        return _categorical_right(x, cat_start[k], cat_end[k], cats)
    return _numerical_right(x, threshold[node], nan_right[node], zero_band[node])


@numba.njit(cache=True, nogil=True)
def _rows(
    x: np.ndarray,
    nodes: Arrays,
    leaves: Arrays,
    base: float,
    weights: np.ndarray,
    out: np.ndarray,
    first: int,
    last: int,
) -> None:
    leaf_value, path_start, path_node, path_right, path_slot = leaves[:5]
    slot_start, slot_feature, slot_z, table_start, table = leaves[5:]
    right = np.zeros(nodes[0].size, dtype=np.int64)
    phi = np.zeros(out.shape[1])
    scratch = np.zeros(weights.shape[0] + 1)  # polynomial coefficients of one leaf
    for r in range(first, last):
        _decide(x[r], nodes, right)
        phi[:] = 0.0
        for leaf in range(leaf_value.size):
            s0 = slot_start[leaf]
            d = slot_start[leaf + 1] - s0
            ones = (1 << d) - 1
            for p in range(path_start[leaf], path_start[leaf + 1]):
                ones &= ~((right[path_node[p]] ^ path_right[p]) << path_slot[p])
            q = leaf_value[leaf]
            for j in range(d):
                on = (ones >> j) & 1
                q *= on + (1 - on) * slot_z[s0 + j]
            off = table_start[leaf]
            if off < 0:
                z, features = slot_z[s0 : s0 + d], slot_feature[s0 : s0 + d]
                _leaf_direct(z, features, ones, q, weights[d], phi, scratch)
                continue
            h_ones = table[off + ones]
            for j in range(d):
                on = (ones >> j) & 1
                h_rest = table[off + (ones ^ (1 << j))]
                phi[slot_feature[s0 + j]] += q * (
                    on * (1.0 - slot_z[s0 + j]) * h_rest - (1 - on) * h_ones
                )
        phi[-1] = base
        out[r] = phi


@numba.njit(cache=True)
def _leaf_direct(
    z: np.ndarray,
    features: np.ndarray,
    ones: int,
    q: float,
    w: np.ndarray,
    phi: np.ndarray,
    e: np.ndarray,
) -> None:
    """One leaf's contributions with H computed on the fly, O(d^2): the elementary
    symmetric polynomials of z over the features the trade follows give H(O); dividing
    out one feature's factor (1 + z_i y), a subtraction-only recurrence since every
    z_i <= 1, gives each H(O - {i})."""
    d = z.size
    e[0] = 1.0
    n = 0
    for j in range(d):
        if ones & (1 << j):
            n += 1
            e[n] = 0.0
            for m in range(n, 0, -1):
                e[m] += z[j] * e[m - 1]
    h_ones = 0.0
    for m in range(n + 1):
        h_ones += w[n - m] * e[m]
    for j in range(d):
        if ones & (1 << j):
            rest = 1.0  # coefficient m of the polynomial without feature j
            h_rest = w[n - 1]
            for m in range(1, n):
                rest = e[m] - z[j] * rest
                h_rest += w[n - 1 - m] * rest
            phi[features[j]] += (1.0 - z[j]) * q * h_rest
        else:
            phi[features[j]] -= q * h_ones


class TreeExplainer:
    """Exact SHAP values of a LightGBM booster's raw score, as ``pred_contrib`` gives them:
    one column per feature plus the base value; each row sums to the raw (log-odds) score."""

    def __init__(self, booster: lgb.Booster, table_max_depth: int = TABLE_MAX_DEPTH) -> None:
        self.n_features = booster.num_feature()
        nodes, leaves, self.base_value = _flatten(booster, table_max_depth)
        self._nodes, self._leaves = _arrays(nodes), _arrays(leaves)
        depth = int(np.diff(leaves.slot_start).max(initial=0))
        self._weights = np.zeros((depth + 1, depth + 1))
        for d in range(1, depth + 1):
            self._weights[d, : d + 1] = _shapley_weights(d)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """SHAP values for each row of ``x`` (n × features), shape n × (features + 1)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"expected a 2-d array with {self.n_features} feature columns, got shape {x.shape}"
            )
        out = np.zeros((x.shape[0], self.n_features + 1))
        args = (x, self._nodes, self._leaves, self.base_value, self._weights, out)
        n = x.shape[0]
        if n < PARALLEL_MIN_ROWS:  # waking the threads costs more than it saves
            _rows(*args, 0, n)
            return out
        # contiguous chunks of rows, one a thread; ``_rows`` releases the GIL. Threads of
        # our own rather than numba's ``prange``: a parallel kernel cannot be cached and
        # compiled for seconds in every process that explained a batch
        pool, threads = _threads()
        chunks = min(threads, n)
        bounds = [(c * n // chunks, (c + 1) * n // chunks) for c in range(chunks)]
        for done in [pool.submit(_rows, *args, first, last) for first, last in bounds]:
            done.result()
        return out


def _threads() -> tuple[ThreadPoolExecutor, int]:
    """The explainer's threads and how many, one a core numba may use (``NUMBA_NUM_THREADS``),
    started with the first batch explained. A process forked after that has threads of its
    own: the parent's do not run in the child, and a pool holding them would never start
    others."""
    return _pool(os.getpid())


@cache
def _pool(pid: int) -> tuple[ThreadPoolExecutor, int]:
    threads = numba.get_num_threads()
    return ThreadPoolExecutor(threads, thread_name_prefix=f"shap-{pid}"), threads
