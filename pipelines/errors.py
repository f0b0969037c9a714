"""How the command line reports an error: a message the user can act on, and an exit code
that says what kind of problem it was. The one place the error tree meets exit codes.

    0  done
    1  the input is wrong (a dataset, an argument, a setting, a status change): fix it
    2  the command line itself is wrong (click's usage errors)
    3  a dependency does not answer (a store, the registry): try again later
    4  the scoring service did not start
    5  not signed in, or not allowed
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from core.errors import AuthError, FailcastError, ServerFailed, Unavailable

__all__ = ["EXIT_CODES", "ReportingGroup", "exit_code", "report"]

EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (Unavailable, 3),
    (ServerFailed, 4),
    (AuthError, 5),
    (FailcastError, 1),
    (OSError, 1),  # a file that cannot be read or written: named by the message
)
"""The first class an error is an instance of gives its exit code."""

_errors = Console(stderr=True)


def exit_code(exc: BaseException) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(exc, kind))


def report(exc: BaseException) -> typer.Exit:
    """Print the error and return the exit to raise."""
    _errors.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(exit_code(exc))


class ReportingGroup(TyperGroup):
    """The command line's root group: every command under it, sub-commands included, has its
    failcast errors (and file errors) reported as ``EXIT_CODES`` says."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context, vendored privately
        try:
            return super().invoke(ctx)
        except (FailcastError, OSError) as exc:
            raise report(exc) from exc
