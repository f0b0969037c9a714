"""A BentoML endpoint that does nothing, served beside the scoring service in the serving
benchmark: what HTTP, JSON, BentoML and the request checks every route passes (allowed host
and origin, JSON body) cost on this machine, measured in the same run."""

from __future__ import annotations

from typing import Any, cast

import bentoml
from pydantic import BaseModel

from serving.api.guards import RequestGuard


class Empty(BaseModel):
    scores: list[dict] = []


@bentoml.service(name="noop")
class Noop:
    @bentoml.api(route="/score")
    async def score(self, trades: list[dict]) -> Empty:
        return Empty()


cast(Any, Noop).add_asgi_middleware(RequestGuard)  # behind the same checks as /score
