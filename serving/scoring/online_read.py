"""The stored half of a feature vector: the latest value of every feature a service reads,
from the Feast online store, for a batch of entity rows.

Feast's providers read one feature view per ``online_read`` call. For a single trade the
nine views cost more in Python around each call (keys rebuilt and serialised, timestamps
parsed, one statement each) than in the store. Here, on the SQLite store:

- all views are read in one statement, on Feast's tables;
- what was read is remembered per entity key until the database changes. SQLite's
  ``PRAGMA data_version`` moves whenever another connection commits (a materialisation,
  a push, a rebuild), and this reader's connection never writes, so a remembered value is
  always the stored one. A request then skips the B-tree descents and proto parsing that,
  in a serving process whose caches the HTTP stack has just flushed, cost most of a
  millisecond.

Any other store (Redis) goes through ``online_read``, a view at a time.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Sequence

import numpy as np
from feast import FeatureStore, FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import compute_table_id, get_online_store_from_config
from feast.infra.online_stores.sqlite import SqliteOnlineStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from features.store import answering

__all__ = ["StoredReader"]

_KEY_CACHE = 65_536
"""Distinct entity keys whose serialised form is remembered (counterparties, instruments,
accounts and their pairs: a book's worth)."""
_KEYS_PER_STATEMENT = 10_000
"""Bound parameters per statement, well under SQLite's limit (32,766 since 3.32)."""
_MMAP_BYTES = 1 << 30
_ROW_CACHE = 500_000
"""Entity keys whose stored values are remembered (per view) before the memory starts over."""


Key = tuple[str, ...]
"""An entity key: its join-key values, in the view's sorted join-key order."""
RowsOf = dict[Key, list[int]]
"""Each distinct entity key of a batch and the rows that carry it."""


def _proto(join_keys: tuple[str, ...], values: tuple[str, ...]) -> EntityKeyProto:
    return EntityKeyProto(
        join_keys=list(join_keys), entity_values=[ValueProto(string_val=v) for v in values]
    )


def _value(value: ValueProto | None) -> float:
    kind = value.WhichOneof("val") if value is not None else None
    return np.nan if kind is None else getattr(value, kind)


class StoredReader:
    """Reads ``views`` (each a feature view and the feature names wanted from it) for
    batches of entity rows."""

    def __init__(self, store: FeatureStore, views: Sequence[tuple[FeatureView, list[str]]]) -> None:
        self.config, self._store = store.config, store
        self.views = [(view, tuple(sorted(view.join_keys)), names) for view, names in views]
        self._online = get_online_store_from_config(self.config.online_store)
        self._sqlite = isinstance(self._online, SqliteOnlineStore)
        versioned = self.config.registry.enable_online_feature_view_versioning
        self._tables = [
            compute_table_id(self.config.project, view, versioned).replace('"', '""')
            for view, _, _ in self.views
        ]
        self.names = [name for _, _, names in self.views for name in names]
        self._columns: list[slice] = []  # each view's features: adjacent columns of ``names``
        for _, _, names in self.views:
            start = self._columns[-1].stop if self._columns else 0
            self._columns.append(slice(start, start + len(names)))
        self._position = [{name: j for j, name in enumerate(names)} for _, _, names in self.views]
        version = self.config.entity_key_serialization_version

        @functools.lru_cache(maxsize=_KEY_CACHE)
        def key_bytes(join_keys: tuple[str, ...], values: tuple[str, ...]) -> bytes:
            return serialize_entity_key(_proto(join_keys, values), version)

        self._key_bytes = key_bytes
        self._remembered: dict[tuple[int, tuple[str, ...]], np.ndarray] = {}
        self._data_version: int | None = None
        self._lock = threading.Lock()  # a read and what it remembers see one version
        self._tuned: sqlite3.Connection | None = None

    def __call__(self, entity_rows: dict[str, list[str]], n: int) -> dict[str, np.ndarray]:
        """Each feature's latest stored value per row (NaN where the store has none)."""
        rows_of = []  # per view: each distinct entity key -> the rows that carry it
        for _, join_keys, _ in self.views:
            rows: RowsOf = {}
            for i, key in enumerate(zip(*(entity_rows[k] for k in join_keys), strict=True)):
                rows.setdefault(key, []).append(i)
            rows_of.append(rows)
        values = np.full((n, len(self.names)), np.nan, order="F")  # columns contiguous
        with answering(self._store):  # a store down is a StoreUnavailable naming it
            if self._sqlite:
                self._read_sqlite(rows_of, values)
            else:
                self._read_each(rows_of, values)
        return {name: values[:, j] for j, name in enumerate(self.names)}

    def _read_sqlite(self, rows_of: list[RowsOf], values: np.ndarray) -> None:
        """Remembered keys from memory, the others in one statement over every view."""
        conn = self._connection()
        with self._lock:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version or len(self._remembered) > _ROW_CACHE:
                self._remembered.clear()
                self._data_version = version
            missing = [
                (v, key)
                for v, rows in enumerate(rows_of)
                for key in rows
                if (v, key) not in self._remembered
            ]
            if missing:
                self._remember(conn, missing)
            for v, rows in enumerate(rows_of):
                for key, at in rows.items():
                    values[at, self._columns[v]] = self._remembered[v, key]

    def version(self) -> int | None:
        """SQLite's ``data_version`` now: the same number means nothing was written since
        (None for any other store: no such number, read again)."""
        if not self._sqlite:
            return None
        with self._lock:
            version: int = self._connection().execute("PRAGMA data_version").fetchone()[0]
            return version

    def _connection(self) -> sqlite3.Connection:
        """This reader's own connection to the store's file, used only to read, with the
        file mapped into memory: a lookup then reads pages without a system call."""
        # Feast's SQLite store keeps one connection per store; its accessor is private
        conn: sqlite3.Connection = getattr(self._online, "_get_conn")(self.config)  # noqa: B009
        if conn is not self._tuned:
            conn.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
            self._tuned = conn
        return conn

    def _remember(self, conn: sqlite3.Connection, missing: list[tuple[int, Key]]) -> None:
        """Read and remember the missing (view, key) pairs, at most ``_KEYS_PER_STATEMENT``
        per statement."""
        missing.sort(key=lambda vk: vk[0])  # view by view
        for first in range(0, len(missing), _KEYS_PER_STATEMENT):
            by_view: dict[int, list[tuple[str, ...]]] = {}
            for v, key in missing[first : first + _KEYS_PER_STATEMENT]:
                by_view.setdefault(v, []).append(key)
            self._read_keys(conn, by_view)

    def _read_keys(self, conn: sqlite3.Connection, by_view: dict[int, list[Key]]) -> None:
        selects: list[str] = []
        params: list[bytes] = []
        key_of: dict[tuple[int, bytes], Key] = {}
        for v, keys in by_view.items():
            width = self._columns[v].stop - self._columns[v].start
            for key in keys:
                blob = self._key_bytes(self.views[v][1], key)
                key_of[v, blob] = key
                params.append(blob)
                # a key the store lacks is remembered too, as NaN
                self._remembered[v, key] = np.full(width, np.nan)
            selects.append(
                f'SELECT {v}, entity_key, feature_name, value FROM "{self._tables[v]}" '
                f"WHERE entity_key IN ({','.join('?' * len(keys))})"
            )
        for v, blob, name, raw in conn.execute(" UNION ALL ".join(selects), params):
            j = self._position[v].get(name)
            if j is not None:
                self._remembered[v, key_of[v, blob]][j] = _value(ValueProto.FromString(raw))

    def _read_each(self, rows_of: list[RowsOf], values: np.ndarray) -> None:
        """One ``online_read`` per view, as Feast's providers call it."""
        for v, ((view, join_keys, names), rows) in enumerate(zip(self.views, rows_of, strict=True)):
            protos = [_proto(join_keys, key) for key in rows]
            # a copy of the names: the Redis store appends its timestamp field to the list
            read = self._online.online_read(self.config, view, protos, list(names))
            for at, (_, stored) in zip(rows.values(), read, strict=True):
                if stored:
                    for name in names:
                        values[at, self._columns[v].start + self._position[v][name]] = _value(
                            stored.get(name)
                        )
