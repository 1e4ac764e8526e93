"""Liveness, readiness and metrics, for the platform (no token needed)."""

from __future__ import annotations

import sqlite3

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Request, Response

from casestream.api.deps import AccessLogDep, CaseHistoryDep, MetricsDep
from casestream.api.errors import PROBLEM_JSON, problem
from casestream.api.metrics import CONTENT_TYPE
from casestream.api.schemas import Health, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    responses={
        503: {"description": "Store unreachable", "content": {PROBLEM_JSON: {}}}
    },
)
def readyz(
    cases: CaseHistoryDep, access_log: AccessLogDep, request: Request
) -> Response:
    """Readiness: the store answers and the read models are within the lag bound."""
    try:
        # The access log's ping first: it shares the database, and fails fast where
        # the event recorder would retry for many seconds.
        access_log.ping()
        cases.recorder.max_notification_id()
    except (PersistenceError, psycopg.Error, sqlite3.Error, OSError) as e:
        return problem(
            503,
            "Service unavailable",
            f"the store is not reachable ({type(e).__name__})",
        )
    projections = request.app.state.projections
    poisoned: dict[str, int] = {}
    if projections is not None:
        bound = request.app.state.settings.ready_max_lag
        try:
            projections.check()
            lags = projections.lag()
            poisoned = projections.poisoned()
        except Exception as e:  # a failed projection is not ready, and says why
            return problem(503, "Service unavailable", f"a read model failed: {e!r}")
        behind = {name: lag for name, lag in lags.items() if lag > bound}
        if behind:
            return problem(
                503,
                "Service unavailable",
                f"read models are behind the store by more than {bound} events: "
                + ", ".join(f"{n} {lag}" for n, lag in sorted(behind.items())),
            )
    return Response(
        Readiness(status="ready", poisoned=poisoned).model_dump_json(),
        media_type="application/json",
    )


@router.get("/metrics", response_class=Response)
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)
