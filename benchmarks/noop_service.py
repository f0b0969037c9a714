"""A BentoML endpoint that does nothing, served beside the scoring service in the serving
benchmark: what HTTP, JSON and BentoML cost on this machine, measured in the same run."""

from __future__ import annotations

import bentoml
from pydantic import BaseModel


class Empty(BaseModel):
    scores: list[dict] = []


@bentoml.service(name="noop")
class Noop:
    @bentoml.api(route="/score")
    async def score(self, trades: list[dict]) -> Empty:
        return Empty()
