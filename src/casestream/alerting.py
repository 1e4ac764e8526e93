"""The alert evaluator, and the alerts as lists show them (now, or as recorded at T).

The evaluator re-checks every case's due dates on a schedule (alerts fall due as time
passes, not only when events arrive). One pass reads the caseload rows, which already
hold the facts the rules read (``derived.facts``), and asks ``domain.alerts`` what is
due; only a case whose due alerts differ from those it has raised is loaded, and told
to evaluate itself (``EvaluateAlerts`` through ``CaseHistory.execute``): the aggregate
decides, on its own fresh state, so a lagging row can cost a look, never a wrong alert.
Each command carries an idempotency key made of the case, the row's version and the
difference seen, so two evaluators (two servers) racing on one case write once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from casestream.application import CaseHistory, Idempotency
from casestream.domain import commands as cmd, derived
from casestream.domain.alerts import (
    RESOLVED_BY_ACKNOWLEDGEMENT,
    alert_status,
    due_alerts,
)
from casestream.domain.errors import CaseError
from casestream.domain.probationer import SYSTEM_ROLE, Probationer
from casestream.domain.values import Actor
from casestream.periodic import Periodic
from casestream.projections.caseload import CaseloadView, Doc, restore, visible

logger = logging.getLogger(__name__)

# Who raises and resolves alerts: the system, never a person.
EVALUATOR = Actor("alert-evaluator", SYSTEM_ROLE)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def difference(doc: Mapping[str, Any], now: datetime) -> tuple[list[str], list[str]]:
    """Keys due and never raised, and alerts open that should be resolved, as a
    case's row says at ``now``."""
    if doc.get("sealed"):
        return [], []
    due = {d.key for d in due_alerts(doc, derived.day(now))}
    raised = set(doc.get("alert_keys", []))
    missing = sorted(due - raised)
    stale = sorted(
        alert_id
        for alert_id, alert in doc.get("alerts", {}).items()
        if alert["key"] not in due
        or (
            alert["kind"] in RESOLVED_BY_ACKNOWLEDGEMENT
            and alert["acknowledged_at"] is not None
        )
    )
    return missing, stale


@dataclass
class Pass:
    """What one evaluator pass did."""

    at: datetime
    cases: int = 0
    evaluated: list[UUID] = field(default_factory=list)
    failed: dict[UUID, str] = field(default_factory=dict)


class AlertEvaluator(Periodic):
    """Runs the alert rules over every case every ``every`` seconds (a thread), or
    once when asked (``run_once``), with an injectable clock."""

    name = "alert-evaluator"

    def __init__(
        self,
        cases: CaseHistory,
        caseload: Callable[[], CaseloadView],
        *,
        every: float = 60.0,
        clock: Clock = utc_now,
        on_pass: Callable[[Pass], None] | None = None,
    ) -> None:
        super().__init__(every)
        self.cases = cases
        self.caseload = caseload
        self.clock = clock
        self.on_pass = on_pass
        self._lock = threading.Lock()  # one pass at a time in this process

    def run_once(self, now: datetime | None = None) -> Pass:
        """One pass over every case the caseload holds, at ``now`` (default: the
        clock)."""
        at = now or self.clock()
        done = Pass(at)
        with self._lock:
            for doc in visible(self.caseload().select_docs()):
                done.cases += 1
                missing, stale = difference(doc, at)
                if missing or stale:
                    self._evaluate(doc, at, missing, stale, done)
        if self.on_pass is not None:
            self.on_pass(done)
        return done

    def _evaluate(
        self, doc: Doc, at: datetime, missing: list[str], stale: list[str], done: Pass
    ) -> None:
        case_id = UUID(doc["probationer_id"])
        seen = "\n".join([doc["probationer_id"], str(doc["version"]), *missing, *stale])
        digest = hashlib.sha256(seen.encode()).hexdigest()
        key = f"alerts:{doc['probationer_id']}:{doc['version']}:{digest[:32]}"
        try:
            self.cases.execute(
                case_id,
                cmd.EvaluateAlerts(as_of=at),
                actor=EVALUATOR,
                idempotency=Idempotency(key, digest),
            )
        except CaseError as error:  # a broken or busy case: looked at next pass
            logger.warning("alerts of case %s not evaluated: %s", case_id, error)
            done.failed[case_id] = str(error)
            return
        done.evaluated.append(case_id)


# Reading alerts: rows of the caseload read model (or of the store replayed up to a
# time) hold each case's state; an alert is listed as ``derived.alert_row`` shows it.


def alert_items(docs: Iterable[Doc], at: datetime) -> list[dict[str, Any]]:
    """Every alert of these rows (with their kept state), with its status at ``at``."""
    now_iso = at.astimezone(UTC).isoformat()
    items = []
    for doc in docs:
        case = restore(doc)
        for alert_id, alert in case.alerts.items():
            row = derived.alert_row(alert)
            row.pop("resolved")  # ``status`` says it
            items.append(
                {
                    "id": alert_id,
                    "probationer_id": doc["probationer_id"],
                    "officer_id": doc["officer_id"],
                    "unit_id": doc["unit_id"],
                    **row,
                    "status": alert_status(row, now_iso),
                }
            )
    return sorted(items, key=lambda i: (i["raised_at"], i["id"]))


def case_of(alert_id: str) -> UUID | None:
    """The case an alert id names (``<probationer id>.<n>``), if it names one."""
    case, _, number = alert_id.rpartition(".")
    if not number.isdigit():
        return None
    try:
        return UUID(case)
    except ValueError:
        return None


ALERT_EVENTS = (
    Probationer.AlertRaised,
    Probationer.AlertAcknowledged,
    Probationer.AlertSnoozed,
    Probationer.AlertResolved,
)
# What a message about an alert event carries (streams, webhooks): codes and ids,
# never the officer's note, a snooze's reason, or anything about the person.
STREAMED = ("kind", "severity", "due_at", "rule_version", "resolution", "until")


def streamed(event: Any) -> dict[str, Any]:
    """An alert event as a stream message or webhook payload shows it."""
    data: dict[str, Any] = {
        "type": type(event).__name__,
        "alert_id": event.alert_id,
        "probationer_id": str(event.originator_id),
        "version": event.originator_version,
        "effective_at": event.effective_at.isoformat(),
        "actor_role": event.actor_role,
    }
    for name in STREAMED:
        value = getattr(event, name, None)
        if value is not None:
            data[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return data
