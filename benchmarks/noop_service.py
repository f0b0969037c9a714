"""A BentoML endpoint that does nothing, served beside the scoring service in the serving
benchmark: what HTTP, JSON, BentoML and the request checks every route passes (allowed host
and origin, JSON body, the caller's key and role, the audit entry) cost on this machine,
measured in the same run."""

from __future__ import annotations

from typing import Any, cast

import bentoml
from pydantic import BaseModel

from core.settings import get_settings
from serving.api.auth import Access
from serving.api.guards import RequestGuard
from serving.workflow.store import ExceptionStore


class Empty(BaseModel):
    scores: list[dict] = []


@bentoml.service(name="noop")
class Noop:
    def __init__(self) -> None:
        settings = get_settings()  # the scoring service's home: the same keys let in
        self.access = Access.start(settings, ExceptionStore.from_settings(settings, lazy=True))

    @bentoml.api(route="/score")
    async def score(self, trades: list[dict]) -> Empty:
        return Empty()


cast(Any, Noop).add_asgi_middleware(RequestGuard)  # behind the same checks as /score
