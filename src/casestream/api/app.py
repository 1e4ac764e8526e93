"""The FastAPI application factory: the one place where the service is wired together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from casestream import ui
from casestream.alerting import AlertEvaluator
from casestream.api.errors import install_error_handlers
from casestream.api.identity import Verifier
from casestream.api.metrics import MeteredCaseHistory, Metrics
from casestream.api.middleware import (
    BodySizeLimit,
    IntegrityHeader,
    RefuseNul,
    RequestMetrics,
)
from casestream.api.openapi import install_openapi
from casestream.api.routes import (
    alerts,
    audit,
    case_entries,
    case_reads,
    caseloads,
    checkpoints,
    directory,
    events,
    operations,
    partners,
    probationers,
    referrals,
    webhooks,
)
from casestream.application import CaseHistory
from casestream.checkpoints import PeriodicCheckpoints
from casestream.domain import commands as cmd
from casestream.domain.derived import crn_of
from casestream.keys import SigningKeyMissing
from casestream.persistence.store import open_store
from casestream.projections.caseload import open_duplicates
from casestream.projections.readers import FollowedReadModels, ReadModels
from casestream.projections.runner import LiveProjections
from casestream.settings import Settings, get_settings
from casestream.webhooks import WebhookDispatcher

logger = logging.getLogger(__name__)


def start_checkpoints(
    settings: Settings, case_history: CaseHistory
) -> PeriodicCheckpoints | None:
    """Signed checkpoints on the server's schedule (exports need one that covers the
    case); without the signing key none can be signed, and the log says so."""
    if not settings.checkpoint_every_seconds:
        return None
    try:
        key = settings.signing_key()
    except SigningKeyMissing as e:
        logger.error("no checkpoints will be taken: %s", e)
        return None
    return PeriodicCheckpoints(
        case_history.store, key, settings.checkpoint_every_seconds, settings.witness
    )


# How long opening a case waits for the caseload to catch up before its duplicate check.
DUPLICATE_WAIT_SECONDS = 5.0


def duplicate_finder(projections: ReadModels) -> Callable[[cmd.OpenCase], list[str]]:
    """How the application finds open cases of the person a new case names: the
    caseload read model, once it has caught up with the store (bounded: a read model
    that cannot catch up is logged, and the check uses what it has)."""

    def find(command: cmd.OpenCase) -> list[str]:
        try:
            projections.wait(timeout=DUPLICATE_WAIT_SECONDS)
        except (
            Exception
        ):  # the check is advisory: a stuck read model must not stop intake
            logger.warning("duplicate check on a lagging read model", exc_info=True)
        found = open_duplicates(
            projections.view("caseload"),
            crn_of({"identifiers": command.person.identifiers}),
            command.court_order.court,
            command.court_order.case_number,
        )
        return [d["probationer_id"] for d in found]

    return find


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for one store; the application opens on startup, closes on shutdown.

    Raises InsecureConfiguration (no token key) or SigningKeyMissing (no agency key to
    sign checkpoints and seal snapshots), before anything is opened, outside
    development: a server nobody can trust must not start.
    """
    settings = settings or get_settings()
    verifier = Verifier.from_settings(settings)
    if settings.env != "development":
        settings.signing_key()
    if settings.env == "development" and settings.jwt_secret is None:
        logger.warning("CASESTREAM_ENV=development: tokens use a generated secret")
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every storage piece comes from the one composition root.
        store = open_store(settings)
        case_history = MeteredCaseHistory(store.env(), metrics)
        try:
            access_log = store.access_log()
        except BaseException:
            case_history.close()
            raise
        # Read models follow the store in background threads (the library's
        # ProjectionRunner per read model), unless workers run them elsewhere.
        projections: ReadModels = (
            LiveProjections(store, on_poisoned=metrics.count_poisoned)
            if settings.run_projections
            else FollowedReadModels(store)
        )
        scheduled = start_checkpoints(settings, case_history)
        case_history.find_duplicates = duplicate_finder(projections)
        # Alerts fall due as time passes: the process that runs the read models
        # re-checks them (every CASESTREAM_ALERT_EVERY_SECONDS; 0: only when asked).
        evaluator = AlertEvaluator(
            case_history,
            lambda: projections.view("caseload"),
            every=settings.alert_every_seconds,
        )
        if settings.run_projections and settings.alert_every_seconds:
            evaluator.start()
        # Alert events to subscribers, from the same process, apart from every writer.
        webhook_db = store.webhooks()
        dispatcher = WebhookDispatcher(
            case_history,
            webhook_db,
            every=settings.webhook_every_seconds,
            max_attempts=settings.webhook_max_attempts,
            backoff=settings.webhook_backoff_seconds,
        )
        if settings.run_projections and settings.webhook_every_seconds:
            dispatcher.start()
        changes = store.changes()  # wakes /events/stream on a commit
        app.state.changes = changes
        app.state.case_history = case_history
        app.state.access_log = access_log
        app.state.projections = projections
        app.state.alert_evaluator = evaluator
        app.state.webhooks = webhook_db
        app.state.webhook_dispatcher = dispatcher
        try:
            yield
        finally:
            dispatcher.stop()
            webhook_db.close()
            evaluator.stop()
            if scheduled is not None:
                scheduled.stop()
            changes.close()
            projections.stop()
            access_log.close()
            case_history.close()

    app = FastAPI(
        title="casestream",
        summary="Event-sourced probation case history",
        version="0.1.0",
        lifespan=lifespan,
        # Served by ui.docs from local assets: FastAPI's own pages load a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.verifier = verifier
    app.state.metrics = metrics
    app.state.projections = None
    for router in (
        probationers.router,
        case_reads.router,
        checkpoints.router,
        caseloads.router,
        alerts.router,
        webhooks.router,
        case_entries.router,
        partners.router,
        referrals.router,
        directory.router,
        events.router,
        audit.router,
        operations.router,
    ):
        app.include_router(router)
    install_error_handlers(app)
    install_openapi(app)
    ui.install(app)  # the reviewer's pages and offline /docs (wraps the handlers)
    # Added last = outermost: metrics see every answer, including a 413.
    app.add_middleware(IntegrityHeader)
    app.add_middleware(RefuseNul)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app
