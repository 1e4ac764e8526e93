"""Liveness, readiness and metrics, for the platform (no token needed)."""

from __future__ import annotations

import sqlite3

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Response

from casestream.api.deps import AccessLogDep, CaseHistoryDep, MetricsDep
from casestream.api.errors import PROBLEM_JSON, problem
from casestream.api.metrics import CONTENT_TYPE
from casestream.api.schemas import Health

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
def readyz(cases: CaseHistoryDep, access_log: AccessLogDep) -> Response:
    """Readiness: the event store and the access log answer a query."""
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
    return Response(
        Health(status="ready").model_dump_json(), media_type="application/json"
    )


@router.get("/metrics", response_class=Response)
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)
