"""Prometheus metrics: one registry per app, so that two apps (or tests) never collide."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Mapping
from uuid import UUID

from eventsourcing.persistence import Recording
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from typing_extensions import override

from casestream.application import CaseHistory
from casestream.projections.poison import Poisoned

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Request counts and latencies by route template and status; events appended."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "casestream_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "casestream_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.integrity_failures = Counter(
            "casestream_integrity_failures",
            "Case loads whose stored rows failed their hash chain or checkpoint.",
            registry=self.registry,
        )
        self.snapshots_rejected = Counter(
            "casestream_snapshots_rejected",
            "Snapshots ignored because their seal did not check (replayed instead).",
            registry=self.registry,
        )
        self.events_appended = Counter(
            "casestream_events_appended",
            "Events this process appended to the store, by event type.",
            ["type"],
            registry=self.registry,
        )

        self.events_poisoned = Counter(
            "casestream_events_poisoned",
            "Events a read model could not apply and stepped over (see casestream "
            "status), by read model.",
            ["read_model"],
            registry=self.registry,
        )

    def count_poisoned(self, read_model: str, poisoned: Poisoned) -> None:
        self.events_poisoned.labels(read_model).inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def count_appended(self, types: Mapping[str, int]) -> None:
        for event_type, n in types.items():
            self.events_appended.labels(event_type).inc(n)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MeteredCaseHistory(CaseHistory):
    """The case history, counting the events it appends for ``/metrics``.

    Same ``name`` as CaseHistory: same tables, same environment variables.
    """

    name = CaseHistory.name

    def __init__(self, env: Mapping[str, str], metrics: Metrics) -> None:
        self.metrics = metrics
        super().__init__(env=env)
        self.integrity_listeners.append(lambda _, __: metrics.integrity_failures.inc())
        self.snapshot_listeners.append(
            lambda _, __, ___: metrics.snapshots_rejected.inc()
        )

    @override
    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        self.metrics.count_appended(
            Tally(type(r.domain_event).__name__ for r in recordings)
        )
