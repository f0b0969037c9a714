"""The fail booster trained on a Dask cluster (``lightgbm.dask``), for a training set whose
binned form (about one byte per value) no longer fits one machine.

``lightgbm.dask`` has no early stopping, so the number of rounds is chosen first by an
early-stopped run on one machine over a sample of the training rows (``sample_rows``), then
the cluster boosts exactly that many rounds over every training row. The cluster is the one at
``scheduler``, or a ``distributed.LocalCluster`` of ``workers`` processes started for the fit
and stopped after it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from core.errors import Unavailable
from core.settings import Settings, require_extra

__all__ = ["DaskTraining", "check_scheduler", "dask_client", "dask_training", "fit_on_dask"]


@dataclass(frozen=True)
class DaskTraining:
    scheduler: str | None = None  # a running cluster's scheduler; None: a local one
    workers: int = 2  # processes of the local cluster
    sample_rows: int = 1_000_000  # rows of the one-machine run that picks the rounds
    partition_rows: int = 250_000  # rows per partition sent to the workers


def dask_training(settings: Settings) -> DaskTraining | None:
    """The Dask training the settings ask for (None: train in this process)."""
    if settings.train_engine != "dask":
        return None
    require_extra("distributed", "FAILCAST_TRAIN_ENGINE=dask")
    return DaskTraining(
        scheduler=settings.dask_scheduler,
        workers=settings.dask_workers,
        sample_rows=settings.dask_sample_rows,
    )


def check_scheduler(config: DaskTraining) -> None:
    """Fail before any work when a configured scheduler does not answer (a local cluster is
    started for the fit itself)."""
    if config.scheduler:
        with dask_client(config):
            pass


@contextmanager
def dask_client(config: DaskTraining) -> Iterator[Any]:
    """A client of the configured cluster; a local cluster lives as long as the block."""
    from distributed import Client, LocalCluster

    if config.scheduler:
        try:
            client = Client(config.scheduler, timeout="10s")
        except OSError as exc:
            raise Unavailable(
                f"Dask scheduler at {config.scheduler} (FAILCAST_DASK_SCHEDULER) does not "
                f"answer: {exc}"
            ) from exc
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=config.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def fit_on_dask(
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    rounds: int,
    categorical: list[int],
    params: dict[str, Any],
    config: DaskTraining,
    weights: np.ndarray | None = None,
) -> lgb.Booster:
    """``rounds`` rounds of boosting over the ``train`` rows of ``x`` on the cluster,
    returned as a plain ``lgb.Booster``. The rows go to the workers in partitions of
    ``partition_rows``; the training slice of time-sorted rows is one run, sent as a view."""
    import dask.array as da

    chosen = np.flatnonzero(train)
    lo, hi = int(chosen[0]), int(chosen[-1]) + 1
    whole_run = chosen.size == hi - lo
    rows = x[lo:hi] if whole_run else x[chosen]
    labels = (y[lo:hi] if whole_run else y[chosen]).astype(np.int8)
    weight = None if weights is None else (weights[lo:hi] if whole_run else weights[chosen])
    # the cluster's workers set their own threads and ports; the seed becomes random_state
    settings = {k: v for k, v in params.items() if k not in ("num_threads", "seed", "verbose")}
    with dask_client(config) as client:
        dx = da.from_array(rows, chunks=(config.partition_rows, rows.shape[1]))
        dy = da.from_array(labels, chunks=config.partition_rows)
        dx, dy = client.persist([dx, dy])
        dw = None
        if weight is not None:
            dw = client.persist(da.from_array(weight, chunks=config.partition_rows))
        model = lgb.DaskLGBMClassifier(
            client=client,
            n_estimators=rounds,
            random_state=params.get("seed"),
            verbose=-1,
            **settings,
        )
        with warnings.catch_warnings():
            # the sklearn wrapper always carries n_jobs, which lightgbm.dask then says it drops
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            model.fit(dx, dy, sample_weight=dw, categorical_feature=categorical or "auto")
        return model.booster_
