"""`failcast serve`: the scoring service in the foreground.

The command becomes BentoML's server (exec): a SIGTERM or Ctrl-C to its pid reaches
BentoML's arbiter, which stops its workers, so a stop stops everything.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from core.settings import get_settings
from features.reference import Reference
from pipelines.console import console
from serving.api.server import SERVICE, server_command, server_env

__all__ = ["CURL_EXAMPLE", "serve_cmd"]

CURL_EXAMPLE = """curl -s -X POST http://127.0.0.1:{port}/score \\
  -H "authorization: Bearer $(cat {key})" \\
  -H 'content-type: application/json' -d '{{
  "trades": [{{"trade_id": "T1", "execution_ts": "2024-12-20T14:30:00Z",
    "trade_date": "2024-12-20", "settlement_date": "2024-12-23", "settlement_cycle_days": 1,
    "desk_id": "D01", "account_id": "A001", "counterparty_id": "C0001",
    "instrument_id": "US0000000001", "side": "SELL", "quantity": 5000, "price": 101.5,
    "notional": 507500, "currency": "USD", "settlement_market": "US", "is_block": false}}],
  "as_of": "2024-12-20T15:00:00Z"}}'"""


def serve_cmd(
    port: Annotated[int | None, typer.Option(help="port (default FAILCAST_SERVE_PORT)")] = None,
) -> None:
    """Serve /score, /explain and /model over HTTP with the registry's champion (BentoML)."""
    settings = get_settings()
    Reference.load(settings)  # a clear error now rather than a failed worker later
    port = port or settings.serve_port
    keys = settings.keys_dir
    console.print(
        f"serving {SERVICE} on http://127.0.0.1:{port}; with a feed's key "
        f"(`failcast users add NAME --role feed`; `make demo` leaves one in {keys}) try:\n"
        + CURL_EXAMPLE.format(port=port, key=keys / "feed.key")
    )
    command = server_command(port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, server_env(settings))
