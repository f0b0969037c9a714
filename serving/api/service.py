"""The failcast scoring service (BentoML 1.4).

    POST /score    one or many trades -> probability, tier, cause, cost, reasons
    POST /explain  one trade -> the exact SHAP value of every feature
    POST /model    what is being served, and the last registry check
    POST /events   lifecycle, SSI, inventory and outcome events -> pushes and re-scores
    GET  /queue, GET /trades/{id}, POST /trades/{id}/status   the exception workflow
    GET  /status   the journal, the outbox, dead letters, the stores and the watermark
    GET  /healthz /livez /readyz /metrics   BentoML's (readiness and metrics with ours)

Every route but the probes, the page and the OpenAPI document needs a bearer API key or
token of a role the route allows (``serving.api.policy``); every request is audited.

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
from typing import TYPE_CHECKING, Any, cast

import anyio
import bentoml
import numpy as np
from starlette.exceptions import HTTPException

from core.errors import BatchTooLarge, InvalidInput, ModelRefused, StoreUnavailable
from core.instants import epoch_us, instants_us
from core.redact import redacted
from core.runtime import quiet_libraries
from core.settings import get_settings
from features.data.contract import NotLater
from serving.api.auth import Access
from serving.api.client import trade_records
from serving.api.errors import http_errors
from serving.api.guards import RequestGuard
from serving.api.routes import ops
from serving.scoring.schemas import Explanation, ModelInfo, ScoreResponse, Trade
from serving.workflow.drain import Drain
from serving.workflow.event_models import Applied, Event
from serving.workflow.journal import Journal
from serving.workflow.store import ExceptionStore, ScoreRecord

if TYPE_CHECKING:
    from serving.scoring.scorer import Scorer

log = logging.getLogger("failcast.service")
SWEEP_SECONDS = 60.0
"""How often exceptions past their settlement deadline are looked for."""
OUTBOX_SECONDS = 2.0
"""How often events taken in but not yet applied (a store was down) are tried again."""


def _us(stamp: datetime | None) -> int | None:
    return None if stamp is None else epoch_us(stamp)


@bentoml.asgi_app(ops, path="/")
@bentoml.service(name="failcast", traffic={"timeout": 60}, http={"host": "127.0.0.1"})
class Failcast:
    def __init__(self) -> None:
        # The query engine, the model's libraries and the registry's client are imported
        # here, in the worker that serves, not with the module: the `bentoml serve` process
        # imports the module only to read the service's definition, and every start would
        # otherwise wait on these imports there before any worker began its own.
        from features.reference import Reference
        from features.store import feature_store
        from serving.scoring.vectors import ServingFeatures
        from serving.workflow.events import EventProcessor
        from serving.workflow.intraday import IntradayBook

        quiet_libraries()
        self.settings = get_settings()
        # online reads over the network are made off the event loop
        self.network_reads = self.settings.online_store != "sqlite"
        # the service starts and scores into its journal even when the store is down
        self.exceptions = ExceptionStore.from_settings(self.settings, lazy=True)
        self.journal = Journal(self.settings.journal_dir, self.settings.journal_max_pending)
        self.drain = Drain(self.journal, self.exceptions)
        self.access = Access.start(self.settings, self.exceptions)  # who calls; the audit
        reference = Reference.load(self.settings)
        # today's trades from the exception store, for the intraday features
        self.intraday = IntradayBook(self.exceptions)
        self.features = ServingFeatures(
            feature_store(self.settings), reference, book=self.intraday.state
        )
        self.scorer = self._scorer()
        self.events_processor = EventProcessor(
            lambda: self.scorer,
            self.exceptions,
            self.features.store,
            reference,
            before_rescoring=self.intraday.refresh,
        )
        self.registry = self.scorer.served.fallback or "ok"
        self.loaded_at = datetime.now(UTC)
        self._warm_lock = threading.Lock()
        self._refresh_lock = threading.Lock()  # one registry check at a time
        self.warm: str | None = "not warmed up yet"  # why not ready (None: warm)
        if self.settings.model_refresh_seconds > 0:
            threading.Thread(target=self._refresh_loop, daemon=True, name="champion").start()
        threading.Thread(target=self._sweep_loop, daemon=True, name="deadlines").start()
        try:  # what a process that died acknowledged is stored before this one is ready
            self.drain.catch_up()
        except StoreUnavailable as exc:
            log.warning("%s: scores are journaled until it answers", exc)
        self.drain.start()
        self.intraday.start()
        threading.Thread(target=self._outbox_loop, daemon=True, name="outbox").start()
        self._warm_up()
        gc.freeze()  # what start-up loaded lives as long as the service: keep it out of GC passes

    def _scorer(self) -> Scorer:
        from serving.scoring.model_store import load_served
        from serving.scoring.scorer import RiskTiers, Scorer

        return Scorer(
            load_served(self.settings),
            self.features,
            RiskTiers(self.settings.risk_high, self.settings.risk_medium),
            self.settings.reasons_per_trade,
        )

    def _warm_up(self) -> None:
        """Score the build's sample of recent trades (nothing is stored): the first real
        batch then finds the model, the explainer and the feature reads warm."""
        with self._warm_lock:
            if self.warm is None:
                return
            sample = self.features.reference.warmup_trades()
            if sample.empty:
                self.warm = None
                return
            trades = [Trade.model_validate(r) for r in trade_records(sample)]
            as_of = instants_us(sample["execution_ts"]) + 60_000_000
            try:
                self.scorer.score(trades, as_of)
            except StoreUnavailable as exc:
                self.warm = f"warming up failed: {exc}"
                log.warning("%s", self.warm)
                return
            self.warm = None
            log.info("warmed up on %d trades", len(trades))

    def _outbox_loop(self) -> None:
        """Apply what events taken in still have to do once the stores answer again."""
        down = False
        while True:
            time.sleep(OUTBOX_SECONDS)
            try:
                self.events_processor.catch_up()
                down = False
            except StoreUnavailable as exc:
                if not down:
                    log.warning("events wait in the outbox: %s", exc)
                down = True
            except Exception:  # a bug: say so, keep the loop
                log.exception("the outbox catch-up failed")

    def __is_ready__(self) -> bool:
        """Ready: warmed up, the online store holds a fresh watermark, the journal has room.
        Not ready is a 503 whose body says why."""
        problems = self.readiness()
        if problems:
            raise HTTPException(status_code=503, detail="not ready: " + "; ".join(problems))
        return True

    def readiness(self) -> list[str]:
        """Why the service is not ready (empty: it is)."""
        problems = []
        if self.warm is not None:
            self._warm_up()  # the online store may have been filled since
        if self.warm is not None:
            problems.append(self.warm)
        watermark = self.features.watermark
        try:
            mark = watermark.read()
            if mark is None:
                watermark.check(np.array([0]))  # raises, naming the store and the cure
            elif (now := self._now()) is not None:
                watermark.check_fresh(mark, now)
        except StoreUnavailable as exc:
            problems.append(str(exc))
        if self.journal.full():
            problems.append(self._journal_full())
        return problems

    def _now(self) -> datetime | None:
        """Now for the watermark's age: the wall clock, or the store's own clock (the latest
        instant stored, so that a replay of the past lives in its own time; None before
        anything is stored, or while the store is down)."""
        if self.settings.clock == "wall":
            return datetime.now(UTC)
        try:
            return self.exceptions.clock()
        except StoreUnavailable:
            return None

    def status(self) -> dict[str, Any]:
        """What an SRE on call looks at first (GET /status)."""
        drain, problems = self.drain.status(), self.readiness()
        out: dict[str, Any] = {
            "ready": not problems,
            "problems": problems,
            "journal": {
                "pending": drain.pending,
                "max_pending": drain.max_pending,
                "last_error": drain.last_error,
            },
            "model": self.scorer.served.tag,
        }
        try:
            total, latest = self.exceptions.dead_letters(limit=5)
            out["exception_store"] = {
                "up": True,
                "outbox_pending": self.exceptions.pending_entries(),
            }
            out["dead_letters"] = {
                "total": total,
                "latest": [
                    {"source": d.source, "kind": d.kind, "key": d.key, "at": d.at, "error": d.error}
                    for d in latest
                ],
            }
        except StoreUnavailable as exc:
            out["exception_store"] = {"up": False, "error": str(exc)}
        today = self.intraday.status()
        out["intraday"] = {
            "trades": today.trades,
            "read_at": today.read_at,
            "error": today.error,
        }
        mark = self._watermark()
        out["online_store"] = {
            "name": self.features.watermark.name,
            "materialised_until": mark.materialised_until if mark else None,
            "built_at": mark.built_at if mark else None,
        }
        return out

    def _watermark(self) -> Any:
        try:
            return self.features.watermark.read()
        except StoreUnavailable:
            return None

    def __metrics__(self, text: str) -> str:
        """BentoML's metrics, and the journal, outbox, dead letters and readiness."""
        drain = self.drain.status()
        lines = [
            _gauge("failcast_ready", "1 when /readyz answers 200", float(not self.readiness())),
            _gauge("failcast_journal_pending", "scores journaled, not yet stored", drain.pending),
            _gauge(
                "failcast_journal_max_pending", "journal bound (503 past it)", drain.max_pending
            ),
        ]
        try:
            total, _ = self.exceptions.dead_letters(limit=0)
            lines.append(_gauge("failcast_dead_letters", "records kept as dead letters", total))
            pending = self.exceptions.pending_entries()
            lines.append(
                _gauge("failcast_outbox_pending", "event batches not yet applied", pending)
            )
            lines.append(_gauge("failcast_exception_store_up", "the exception store answers", 1))
        except StoreUnavailable:
            lines.append(_gauge("failcast_exception_store_up", "the exception store answers", 0))
        mark, now = self._watermark(), self._now()
        if mark is not None and now is not None:
            age = (now - mark.materialised_until).total_seconds()
            lines.append(_gauge("failcast_watermark_age_seconds", "now minus the watermark", age))
        return text + "".join(lines)

    def _journal_full(self) -> str:
        return (
            f"{self.drain.last_error or 'the exception store does not keep up'}; "
            f"{self.journal.pending():,} scores wait in the journal, at most "
            f"{self.journal.max_pending:,} (FAILCAST_JOURNAL_MAX_PENDING)"
        )

    def _refresh_loop(self) -> None:
        """Swap in a newly promoted champion; on any registry failure keep the loaded one."""
        while True:
            time.sleep(self.settings.model_refresh_seconds)
            self.check_registry()

    def check_registry(self) -> None:
        """Serve the registry's champion if it changed and passes its checks; on a refusal
        or a registry that does not answer keep serving what is loaded, saying why."""
        from serving.scoring.model_store import import_champion

        with self._refresh_lock:
            try:
                tag = import_champion(self.settings)  # gate and digests checked
                if tag != self.scorer.served.tag:
                    self.scorer = self._scorer()
                    self.loaded_at = datetime.now(UTC)
                    log.info("now serving %s", tag)
                self.registry = "ok"
            except ModelRefused as exc:  # a version that may not be served: keep ours
                self.registry = f"refused: {redacted(str(exc))}"[:500]
                log.error("%s; still serving %s", redacted(str(exc)), self.scorer.served.tag)
            except Exception as exc:  # keep serving what is loaded
                self.registry = redacted(f"{type(exc).__name__}: {exc}")[:300]
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
        if self.network_reads:  # a slow Redis must not hold the event loop
            return await anyio.to_thread.run_sync(self._score, trades, as_of)
        # local reads (SQLite in memory until it changes) and one local fsync: inline, as a
        # thread hop would cost more than the work
        return self._score(trades, as_of)

    def _score(self, trades: list[Trade], as_of: datetime | None) -> ScoreResponse:
        if not trades:
            raise InvalidInput("trades: at least one trade is required")
        if len(trades) > self.settings.max_batch:
            raise BatchTooLarge(
                f"trades: at most {self.settings.max_batch} trades per call "
                f"(FAILCAST_MAX_BATCH), got {len(trades)}"
            )
        if self.journal.full():
            raise StoreUnavailable(self._journal_full())
        scores = self.scorer.score(trades, _us(as_of))
        # durable before the answer: journaled and fsynced, stored by the drain
        self.journal.append([ScoreRecord.of(s, t) for s, t in zip(scores, trades, strict=True)])
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
        self.access.audit.close()

    @bentoml.api(route="/explain")
    @http_errors
    def explain(self, trade: Trade, as_of: NotLater | None = None) -> Explanation:
        """The exact SHAP value of every feature for one trade (log-odds; they add up with
        ``base_value`` to ``raw_score``)."""
        return self.scorer.explain(trade, _us(as_of))

    @bentoml.api(route="/model/refresh")
    def refresh_model(self) -> ModelInfo:
        """Check the registry now (an admin's): serve a newly promoted champion that passes
        its checks, or say why not; then what is served."""
        self.check_registry()
        return self._model_info()

    @bentoml.api(route="/model")
    def model(self) -> ModelInfo:
        """What is being served, where it came from, and the last registry check."""
        return self._model_info()

    def _model_info(self) -> ModelInfo:
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


def _gauge(name: str, about: str, value: float) -> str:
    return f"# HELP {name} {about}\n# TYPE {name} gauge\n{name} {value:g}\n"


# @bentoml.service made the class a Service (its decorator is untyped). Every request for a
# host not allowed, or from a foreign origin, is a 403; a body other than JSON a 415; a
# caller not authenticated a 401, one without the route's role a 403
cast(Any, Failcast).add_asgi_middleware(RequestGuard)
