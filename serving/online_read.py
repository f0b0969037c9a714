"""The stored half of a feature vector: the latest value of every feature a service reads,
from the Feast online store, for a batch of entity rows.

Feast's providers read one feature view per ``online_read`` call. For a single trade the
nine views cost more in Python around each call (keys rebuilt and serialised, timestamps
parsed, one statement each) than in the store. Here the entity keys are serialised once per
distinct key and remembered, and on the SQLite store all views are read in one statement on
Feast's own connection and tables; any other store (Redis) goes through ``online_read``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from feast import FeatureStore, FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import compute_table_id, get_online_store_from_config
from feast.infra.online_stores.sqlite import SqliteOnlineStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

__all__ = ["StoredReader"]

_KEY_CACHE = 65_536
"""Distinct entity keys whose serialised form is remembered (counterparties, instruments,
accounts and their pairs: a book's worth)."""


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
        self.config = store.config
        self.views = [(view, tuple(sorted(view.join_keys)), names) for view, names in views]
        self._online = get_online_store_from_config(self.config.online_store)
        self._sqlite = isinstance(self._online, SqliteOnlineStore)
        versioned = self.config.registry.enable_online_feature_view_versioning
        self._tables = [
            compute_table_id(self.config.project, view, versioned).replace('"', '""')
            for view, _, _ in self.views
        ]
        self._column = {
            (v, name): j
            for v, (_, _, names) in enumerate(self.views)
            for j, name in enumerate(names)
        }
        version = self.config.entity_key_serialization_version

        @functools.lru_cache(maxsize=_KEY_CACHE)
        def key_bytes(join_keys: tuple[str, ...], values: tuple[str, ...]) -> bytes:
            return serialize_entity_key(_proto(join_keys, values), version)

        self._key_bytes = key_bytes

    def __call__(self, entity_rows: dict[str, list[str]], n: int) -> dict[str, np.ndarray]:
        """Each feature's latest stored value per row (NaN where the store has none)."""
        keys, found = [], []
        for _, join_keys, names in self.views:
            rows = list(zip(*(entity_rows[k] for k in join_keys), strict=True))
            position = {key: i for i, key in enumerate(dict.fromkeys(rows))}
            keys.append((rows, position))
            found.append(np.full((len(position), len(names)), np.nan))
        if self._sqlite:
            self._read_sqlite(keys, found)
        else:
            self._read_each(keys, found)
        out: dict[str, np.ndarray] = {}
        for (_, _, names), (rows, position), values in zip(self.views, keys, found, strict=True):
            index = np.fromiter((position[k] for k in rows), dtype=np.int64, count=n)
            for j, name in enumerate(names):
                out[name] = values[index, j]
        return out

    def _read_sqlite(self, keys: list, found: list[np.ndarray]) -> None:
        """Every view in one statement: (view, key, feature, value) rows."""
        selects, params, key_index = [], [], {}
        for v, ((_, join_keys, _), (_, position)) in enumerate(zip(self.views, keys, strict=True)):
            for key, i in position.items():
                blob = self._key_bytes(join_keys, key)
                key_index[v, blob] = i
                params.append(blob)
            selects.append(
                f'SELECT {v}, entity_key, feature_name, value FROM "{self._tables[v]}" '
                f"WHERE entity_key IN ({','.join('?' * len(position))})"
            )
        conn = self._online._get_conn(self.config)  # Feast's own connection to its store
        for v, blob, name, value in conn.execute(" UNION ALL ".join(selects), params):
            column = self._column.get((v, name))
            if column is not None:
                found[v][key_index[v, blob], column] = _value(ValueProto.FromString(value))

    def _read_each(self, keys: list, found: list[np.ndarray]) -> None:
        """One ``online_read`` per view, as Feast's providers call it."""
        for (view, join_keys, names), (_, position), values in zip(
            self.views, keys, found, strict=True
        ):
            protos = [_proto(join_keys, key) for key in position]
            # a copy of the names: the Redis store appends its timestamp field to the list
            rows = self._online.online_read(self.config, view, protos, list(names))
            for i, (_, stored) in enumerate(rows):
                if stored:
                    for j, name in enumerate(names):
                        values[i, j] = _value(stored.get(name))
