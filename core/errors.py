"""Every error failcast raises on purpose, in one tree.

    FailcastError
     ├── InvalidInput            a value the user gave breaks a rule
     │    ├── ContractError      a dataset or a batch breaks the raw-data contract
     │    │    └── SecFtdFormatError   a SEC fails-to-deliver file breaks its format
     │    ├── ConfigError        a setting or a configuration file breaks a rule
     │    └── ModelMismatch      a model and the features at hand do not fit together
     ├── NotFound                what was asked for does not exist (yet)
     ├── InvalidTransition       the exception workflow forbids a status change
     ├── Conflict                what was sent contradicts what was received before
     ├── BatchTooLarge           a request holds more items than a call may take
     ├── Unavailable             a dependency does not answer (retry later)
     │    ├── StoreUnavailable   the feature store, its registry or the exception store
     │    ├── RegistryUnavailable   the MLflow tracking server or database
     │    └── ModelUnavailable   no model can be served
     ├── ModelRefused            a model that fails its integrity or gate check
     ├── ServerFailed            the scoring service did not become ready
     └── AuthError               who is asking, and what they may do
          ├── NotAuthenticated   no identity, or one that does not verify
          └── PermissionDenied   a known identity without the role or team required

The command line maps the tree to exit codes (``pipelines.errors``) and the service to HTTP
statuses (``serving.api.errors``), each in one place. Errors that mean a bug in failcast
itself (an array of the wrong shape, say) stay Python's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "AuthError",
    "BatchTooLarge",
    "ConfigError",
    "Conflict",
    "ContractError",
    "FailcastError",
    "InvalidInput",
    "InvalidTransition",
    "ModelMismatch",
    "ModelRefused",
    "ModelUnavailable",
    "NotAuthenticated",
    "NotFound",
    "PermissionDenied",
    "RegistryUnavailable",
    "SecFtdFormatError",
    "ServerFailed",
    "StoreUnavailable",
    "Unavailable",
    "Violation",
]


class FailcastError(Exception):
    """An error failcast reports to its user: the message says what and how to fix it."""


class InvalidInput(FailcastError):
    """A value the user gave breaks a rule; the message names the value and the rule."""


@dataclass(frozen=True)
class Violation:
    """One rule broken in one file: which column, which rule, and the first offending rows."""

    file: str
    rule: str
    column: str | None = None
    n_bad: int = 0
    n_rows: int = 0
    examples: Sequence[str] = field(default_factory=tuple)

    def __str__(self) -> str:
        where = f"{self.file}, column '{self.column}'" if self.column else self.file
        text = f"{where}: {self.rule}"
        if self.n_bad:
            text += f"; {self.n_bad:,} of {self.n_rows:,} rows break it"
        if self.examples:
            text += ". First offending rows:\n" + "\n".join(f"    {e}" for e in self.examples)
        return text


class ContractError(InvalidInput):
    """A dataset or a batch breaks the raw-data contract; nothing was written."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        head = "the dataset breaks the raw-data contract" if len(self.violations) > 1 else ""
        body = "\n".join(f"- {v}" for v in self.violations)
        super().__init__(f"{head}:\n{body}" if head else str(self.violations[0]))


class SecFtdFormatError(ContractError):
    """A SEC fails-to-deliver file does not follow the published format."""


class ConfigError(InvalidInput):
    """A setting (environment variable) or a configuration file breaks a rule."""


class ModelMismatch(InvalidInput):
    """A model needs features the feature service or the frame at hand does not give."""


class NotFound(FailcastError):
    """What was asked for does not exist, or not yet (a trade never scored, say)."""


class InvalidTransition(FailcastError):
    """A status change the workflow does not allow, or for a trade with no exception."""


class Conflict(FailcastError):
    """What was sent contradicts what was received before (an event id with other content)."""


class BatchTooLarge(FailcastError):
    """A request holds more items than one call may take."""


class Unavailable(FailcastError):
    """A dependency does not answer; the same request may succeed later."""


class StoreUnavailable(Unavailable):
    """A configured store (online store, feature registry, exception store) does not answer."""


class RegistryUnavailable(Unavailable):
    """The MLflow tracking server or database does not answer."""


class ModelUnavailable(Unavailable):
    """No model can be served: the registry failed and nothing usable is stored locally."""


class ModelRefused(FailcastError):
    """A model version that may not be served: an artefact whose SHA-256 differs from the
    one recorded at registration, or a version the promotion gate did not pass."""


class ServerFailed(FailcastError):
    """The scoring service did not become ready."""


class AuthError(FailcastError):
    """Who is asking, and what they may do."""


class NotAuthenticated(AuthError):
    """No credentials, or credentials that do not verify."""


class PermissionDenied(AuthError):
    """An authenticated subject without the role or team the action requires."""
