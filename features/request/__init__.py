"""Request-time features: what is known about a trade when it is scored, not stored anywhere.

Each part defined once and used both for training (offline) and serving (online):

- ``fields``: the request fields sent with each trade (calendar-derived times and flags,
  size), the catalogue's ``trade_request`` source;
- ``dates``: the calendar facts behind them, remembered per distinct dates and markets;
- ``lifecycle``: the lifecycle request fields rebuilt from the events table as of any instant;
- ``transforms``: the python-mode on-demand transforms that combine request fields with
  stored features into the catalogue's ``trade_context`` and ``lifecycle_stage`` features.
"""

from features.request.dates import DateFacts, local_days
from features.request.fields import TRADE_COLUMNS, request_fields, request_frame, trade_columns
from features.request.lifecycle import Lifecycles, lifecycle_state
from features.request.transforms import context_features, intraday_features, lifecycle_features

__all__ = [
    "TRADE_COLUMNS",
    "DateFacts",
    "Lifecycles",
    "context_features",
    "intraday_features",
    "lifecycle_features",
    "lifecycle_state",
    "local_days",
    "request_fields",
    "request_frame",
    "trade_columns",
]
