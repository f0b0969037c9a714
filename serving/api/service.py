"""The failcast scoring service (BentoML 1.4).

    POST /score    one or many trades -> probability, tier, cause, cost, reasons
    POST /explain  one trade -> the exact SHAP value of every feature
    POST /model    what is being served, and the last registry check
    POST /events   lifecycle, SSI, inventory and outcome events -> pushes and re-scores
    GET  /queue, GET /trades/{id}, POST /trades/{id}/status   the exception workflow
    GET  /healthz /livez /readyz /metrics   BentoML's own

Start it with ``failcast serve``; ``bentoml build`` packages it (see bentofile.yaml). Nothing
happens at import: settings are read and stores opened when BentoML builds the service in a
worker; the worker count comes from BentoML's configuration (``failcast serve`` sets it from
``FAILCAST_SERVE_WORKERS``).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from datetime import UTC, datetime

import bentoml

from core.errors import BatchTooLarge, InvalidInput, StoreUnavailable
from core.instants import epoch_us
from core.runtime import quiet_libraries
from core.settings import get_settings
from features.data.contract import NotLater
from features.reference import Reference
from features.store import feature_store
from serving.api.errors import http_errors
from serving.api.routes import ops
from serving.scoring.model_store import champion_tag, load_served
from serving.scoring.schemas import Explanation, ModelInfo, ScoreResponse, Trade
from serving.scoring.scorer import RiskTiers, Scorer
from serving.scoring.vectors import ServingFeatures
from serving.workflow.drain import Drain
from serving.workflow.event_models import Event
from serving.workflow.events import Applied, EventProcessor
from serving.workflow.journal import Journal
from serving.workflow.store import ExceptionStore, ScoreRecord

log = logging.getLogger("failcast.service")
SWEEP_SECONDS = 60.0
"""How often exceptions past their settlement deadline are looked for."""


def _us(stamp: datetime | None) -> int | None:
    return None if stamp is None else epoch_us(stamp)


@bentoml.asgi_app(ops, path="/")
@bentoml.service(name="failcast", traffic={"timeout": 60})
class Failcast:
    def __init__(self) -> None:
        quiet_libraries()
        self.settings = get_settings()
        # the service starts and scores into its journal even when the store is down
        self.exceptions = ExceptionStore.from_settings(self.settings, lazy=True)
        self.journal = Journal(self.settings.journal_dir, self.settings.journal_max_pending)
        self.drain = Drain(self.journal, self.exceptions)
        reference = Reference.load(self.settings)
        self.features = ServingFeatures(feature_store(self.settings), reference)
        self.scorer = self._scorer()
        self.events_processor = EventProcessor(
            lambda: self.scorer, self.exceptions, self.features.store, reference
        )
        self.registry = "ok" if self.scorer.served.source == "registry" else "unreachable"
        self.loaded_at = datetime.now(UTC)
        if self.settings.model_refresh_seconds > 0:
            threading.Thread(target=self._refresh_loop, daemon=True, name="champion").start()
        threading.Thread(target=self._sweep_loop, daemon=True, name="deadlines").start()
        try:  # what a process that died acknowledged is stored before this one is ready
            self.drain.catch_up()
        except StoreUnavailable as exc:
            log.warning("%s: scores are journaled until it answers", exc)
        self.drain.start()
        gc.freeze()  # what start-up loaded lives as long as the service: keep it out of GC passes

    def _scorer(self) -> Scorer:
        return Scorer(
            load_served(self.settings),
            self.features,
            RiskTiers(self.settings.risk_high, self.settings.risk_medium),
            self.settings.reasons_per_trade,
        )

    def _refresh_loop(self) -> None:
        """Swap in a newly promoted champion; on any registry failure keep the loaded one."""
        while True:
            time.sleep(self.settings.model_refresh_seconds)
            try:
                _, _, tag = champion_tag(self.settings)
                if tag != self.scorer.served.tag:
                    self.scorer = self._scorer()
                    self.loaded_at = datetime.now(UTC)
                    log.info("now serving %s", tag)
                self.registry = "ok"
            except Exception as exc:  # keep serving what is loaded
                self.registry = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("registry check failed; still serving %s", self.scorer.served.tag)

    def _sweep_loop(self) -> None:
        """Exceptions past their settlement deadline go OVERDUE even when nothing is written."""
        while True:
            time.sleep(SWEEP_SECONDS)
            try:
                if moved := self.exceptions.sweep():
                    log.info("%d exceptions overdue", moved)
            except Exception as exc:  # the store may be down: the next write sweeps too
                log.warning("overdue sweep failed: %s", exc)

    @bentoml.api(route="/score")
    @http_errors
    async def score(self, trades: list[Trade], as_of: NotLater | None = None) -> ScoreResponse:
        """Score trades as of ``as_of`` (default: now): fail probability, risk tier, likely
        cause, expected cost and the reasons behind each score."""
        if not trades:
            raise InvalidInput("trades: at least one trade is required")
        if len(trades) > self.settings.max_batch:
            raise BatchTooLarge(
                f"trades: at most {self.settings.max_batch} trades per call "
                f"(FAILCAST_MAX_BATCH), got {len(trades)}"
            )
        if self.journal.full():
            raise StoreUnavailable(
                f"{self.drain.last_error or 'the exception store does not keep up'}; "
                f"{self.journal.pending():,} scores wait in the journal, at most "
                f"{self.journal.max_pending:,} (FAILCAST_JOURNAL_MAX_PENDING)"
            )
        scores = self.scorer.score(trades, _us(as_of))
        # durable before the answer: journaled and fsynced, stored by the drain
        self.journal.append([ScoreRecord.of(s, t) for s, t in zip(scores, trades, strict=True)])
        self.drain.wake()
        return ScoreResponse(scores=scores)

    @bentoml.api(route="/events")
    @http_errors
    def events(self, events: list[Event]) -> Applied:
        """Apply lifecycle, SSI, inventory and outcome events: push the new facts to the
        online store and score every undecided trade they touch again."""
        if not events:
            raise InvalidInput("events: at least one event is required")
        if len(events) > self.settings.max_batch:
            raise BatchTooLarge(
                f"events: at most {self.settings.max_batch} events per call "
                f"(FAILCAST_MAX_BATCH), got {len(events)}"
            )
        self.drain.catch_up()  # trades scored just before, by any worker, are known
        return self.events_processor.apply(events)

    @bentoml.on_shutdown
    def _store_what_is_pending(self) -> None:
        self.drain.close()

    @bentoml.api(route="/explain")
    @http_errors
    def explain(self, trade: Trade, as_of: NotLater | None = None) -> Explanation:
        """The exact SHAP value of every feature for one trade (log-odds; they add up with
        ``base_value`` to ``raw_score``)."""
        return self.scorer.explain(trade, _us(as_of))

    @bentoml.api(route="/model")
    def model(self) -> ModelInfo:
        """What is being served, where it came from, and the last registry check."""
        served = self.scorer.served
        return ModelInfo(
            model_version=served.version,
            bento_model=served.tag,
            source=served.source,
            loaded_at=self.loaded_at,
            registry=self.registry,
            features=len(served.model.features),
            trees=served.model.booster.num_trees(),
        )
