"""What an entry point (the command line, the service) sets up for the process once: the
libraries' own progress bars, INFO lines and notes about their internals are not for an ops
user. Called from the entry points only, never at import."""

from __future__ import annotations

import logging
import os
import warnings

__all__ = ["quiet_libraries"]


def quiet_libraries() -> None:
    # our progress bars report progress; MLflow's download bars would not
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
    # notes about the libraries' own internals
    warnings.filterwarnings("ignore", message=r"The ``noload`` loader strategy is deprecated")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="pathspec")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ibis\.")
    # on-demand views are "experimental" only for large offline retrievals, which we chunk
    warnings.filterwarnings(
        "ignore",
        message="On demand feature view is an experimental feature",
        category=RuntimeWarning,
    )
    # the Spark store is "alpha" upstream; failcast uses it behind its own guards and parity
    # tests (features/repo/spark.py)
    warnings.filterwarnings(
        "ignore",
        message=r"The spark (data source API|offline store) is an experimental",
        category=RuntimeWarning,
    )
