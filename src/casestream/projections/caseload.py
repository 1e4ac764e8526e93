"""Caseload read model: one row per probationer, what an officer or supervisor works from.

The projection folds each case's events into the aggregate's own state, with the
aggregate's own event methods (free text left out: the caseload needs none of it), and
stores, beside that state, what ``domain/derived.py`` says the state implies. The
aggregate answers from the same functions, so the row and the case cannot disagree. Dates
that make a case "due" or "overdue" are stored; the verdict is computed against the clock
when asked (``present``), so it is right without new events.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from casestream.domain import derived, policies
from casestream.domain.probationer import Probationer
from casestream.domain.values import SupervisionLevel
from casestream.projections.poison import (
    OnPoisoned,
    PoisonAware,
    Poisoned,
    apply_or_skip,
    refuse_unstorable,
)
from casestream.projections.source import EventReader, head, select_events

Doc = dict[str, Any]
COMPLIANCE = derived.COMPLIANCE

# Free text the caseload never shows: left out of the state it keeps (less to store,
# and no case notes copied into a table that every officer's list reads).
_TEXT = frozenset(
    {
        "summary",
        "location",
        "description",
        "authorised_by",
        "hearing",
        "text",
        "scores",
        "needs",
        "strengths",
        "instrument_version",
        "recorded_by",
        "sessions",
        "desired_outcomes",
        "outcomes",
        "collateral_party",
        "issuing_authority",
        "body",
    }
)


def _trim(case: Probationer) -> None:
    """Drop what no derivation and no event method reads back."""
    crn = derived.crn_of(case.person)
    case.person = {"name": case.person.get("name", "")}
    if crn is not None:
        case.person["identifiers"] = {"crn": crn}
    order = case.court_order
    case.court_order = {k: order[k] for k in ("court", "case_number") if k in order}
    case.offences, case.conditions = [], {}
    for entry_id, entry in case.entries.items():
        if not _TEXT.isdisjoint(entry):
            case.entries[entry_id] = {k: v for k, v in entry.items() if k not in _TEXT}
    if case.plan is not None:
        case.plan["goals"] = {
            g: {"goal_id": goal["goal_id"], "status": goal["status"]}
            for g, goal in case.plan["goals"].items()
        }
        case.plan.pop("recorded_by", None)
    restriction = getattr(case, "restriction", None)
    if restriction is not None:
        case.restriction = {k: restriction[k] for k in ("mode", "users")}
    for consent in getattr(case, "consents", {}).values():
        consent.pop("purpose", None)
    for part in (case.closure, case.sealed):
        if part is not None:
            part.pop("reason", None)
            part.pop("by", None)


# The kept state as JSON: times, dates and ids tagged, so they come back as they were.
def _tagged(o: Any) -> Any:
    if isinstance(o, datetime):
        return {"$t": o.isoformat()}
    if isinstance(o, date):
        return {"$d": o.isoformat()}
    if isinstance(o, UUID):
        return {"$u": str(o)}
    raise TypeError(f"cannot keep {type(o).__name__} in a caseload row")


def _untagged(d: dict[str, Any]) -> Any:
    if len(d) == 1:
        if "$t" in d:
            return datetime.fromisoformat(d["$t"])
        if "$d" in d:
            return date.fromisoformat(d["$d"])
        if "$u" in d:
            return UUID(d["$u"])
    return d


def _state(case: Probationer) -> dict[str, Any]:
    return {k: v for k, v in vars(case).items() if k != "_pending_events"}


def restore(doc: Doc) -> Probationer:
    """The case state a row keeps, as a ``Probationer`` its events can be applied to."""
    case = Probationer.__new__(Probationer)
    state = json.loads(doc["state"], object_hook=_untagged)
    # Rows kept before consents and the referral lifecycle's fields: as a snapshot.
    Probationer.upcast_v5_v6(state)
    case.__dict__.update(state)
    case.__dict__["_pending_events"] = []
    # Rows kept before the level history was: the current level from the opening.
    case.__dict__.setdefault(
        "supervision_history", [[case.opened_at, case.supervision_level, 1]]
    )
    case.__dict__.setdefault(
        "assignments", [[case.opened_at, case.officer_id, case.unit_id]]
    )
    # Rows kept before alerts were (issue 13).
    for name, empty in (
        ("alerts", {}),
        ("alert_versions", []),
        ("conditions_changed", None),
    ):
        case.__dict__.setdefault(name, empty)
    return case


def evolve(case: Probationer | None, event: Probationer.Event) -> Probationer | None:
    """The case after one more of its events, applied by the aggregate's own method.

    Versions are not checked: an event stepped over (``poison.py``) must not stop the
    case's later events from being applied.
    """
    if isinstance(event, Probationer.CaseOpened):
        opened = event.mutate(None)
        assert isinstance(opened, Probationer)
        case = opened
    elif case is None:
        return None
    else:
        event.apply(case)
        case.version = event.originator_version
    return case


def row_of(case: Probationer, previous: Doc | None = None) -> Doc:
    """The stored row: the derived facts, the kept state, the poisoned versions."""
    _trim(case)
    state = _state(case)
    refuse_unstorable(state, "the caseload row")
    row = {
        **derived.facts(case),
        "state": json.dumps(state, default=_tagged, sort_keys=True),
    }
    if previous is not None and "poisoned_versions" in previous:
        row["poisoned_versions"] = previous["poisoned_versions"]
    return row


class Folding:
    """Cases being folded, restored from their rows once and written back once."""

    def __init__(self, docs: dict[str, Doc]) -> None:
        self.docs = docs
        self.cases: dict[str, Probationer] = {}

    def add(self, event: Any) -> None:
        if not isinstance(event, Probationer.Event):
            return  # another aggregate's event (a partner)
        key = str(event.originator_id)
        case = self.cases.get(key)
        if case is None and key in self.docs:
            case = restore(self.docs[key])
        case = evolve(case, event)
        if case is not None:
            self.cases[key] = case

    def rows(self) -> dict[str, Doc]:
        """The rows of the cases that changed."""
        return {k: row_of(c, self.docs.get(k)) for k, c in self.cases.items()}


def fold(doc: Doc | None, event: Any) -> Doc | None:
    """The row after one more event of its case (unchanged for other aggregates)."""
    if not isinstance(event, Probationer.Event):
        return doc
    folding = Folding({str(event.originator_id): doc} if doc is not None else {})
    folding.add(event)
    return folding.rows().get(str(event.originator_id), doc)


def present(doc: Doc, now: datetime | None = None) -> Doc:
    """The row as an officer sees it today: due dates and compliance from the clock."""
    today = derived.day(now or datetime.now(UTC))
    return {
        **derived.present(doc, today),
        "poisoned_versions": doc.get("poisoned_versions", []),
        # For the caller's scope check (``covers_case``); ``listed`` drops it.
        "restriction": doc.get("restriction"),
    }


def listed(row: Doc) -> Doc:
    """A presented row as a list shows it: who may see the case stays inside."""
    return {k: v for k, v in row.items() if k != "restriction"}


class CaseloadView(PoisonAware):
    """Where caseload rows live; one implementation per store (memory, SQLite, PostgreSQL).

    An event of a case that cannot be applied (``projections/poison.py``) leaves the
    case's row as it was before that event, with the event's version added to the
    row's ``poisoned_versions``. Later events of the case are still applied to that
    row: a row that stopped would be staler still, and the mark tells the officer the
    row may miss something from that version on, until the event is dealt with and
    the read model rebuilt.
    """

    @abstractmethod
    def load_docs(self, ids: Sequence[str]) -> dict[str, Doc]:
        """Current rows of these probationers (missing ones are left out)."""

    @abstractmethod
    def save_docs(
        self,
        docs: dict[str, Doc],
        tracking: Tracking,
        poisoned: Poisoned | None = None,
    ) -> None:
        """Write rows, the tracking position and a poisoned event, in one transaction."""

    @abstractmethod
    def select_docs(
        self, officer_id: str | None = None, unit_id: str | None = None
    ) -> list[Doc]:
        """Rows of an officer, of a unit, or all of them, without the kept case state
        (what a read needs is beside it; the state is for folding, ``load_docs``)."""

    @abstractmethod
    def search_docs(
        self,
        *,
        crn: str | None = None,
        name: str | None = None,
        case_number: str | None = None,
    ) -> list[Doc]:
        """Rows whose CRN or court case number equals the one given and whose name
        contains ``name`` (case-insensitive), through their indexed columns; without
        the kept case state. At least one criterion is given."""

    @abstractmethod
    def restricted_docs(self) -> dict[str, Doc]:
        """The restriction of every restricted case, by case id (few: limited-access
        cases are the exception)."""

    def apply(self, events: Iterable[Any], tracking: Tracking) -> None:
        """Fold a batch of events into their rows, then save rows and position together."""
        events = list(events)
        ids = sorted(
            {str(e.originator_id) for e in events if isinstance(e, Probationer.Event)}
        )
        folding = Folding(self.load_docs(ids))
        for event in events:
            folding.add(event)
        self.save_docs(folding.rows(), tracking)

    def skip(self, poisoned: Poisoned, tracking: Tracking) -> None:
        """Keep the row as it was before the event, marked with the event's version."""
        docs = self.load_docs([poisoned.originator_id])
        marked = {
            key: {
                **doc,
                "poisoned_versions": [
                    *doc.get("poisoned_versions", []),
                    poisoned.version,
                ],
            }
            for key, doc in docs.items()
        }
        self.save_docs(marked, tracking, poisoned)


class CaseloadProjection(Projection[CaseloadView]):
    """Keeps the caseload rows in step with the event store."""

    name = "caseload"
    on_poisoned: OnPoisoned | None = None

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Not a case's event (a partner's): only the position moves."""
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, domain_event: Probationer.Event, tracking: Tracking) -> None:
        apply_or_skip(
            self.view,
            self.name,
            domain_event,
            tracking,
            lambda: self.view.apply([domain_event], tracking),
            self.on_poisoned,
        )


def visible(docs: Iterable[Doc]) -> list[Doc]:
    """Rows that may appear in caseload and outcome views: sealed cases never do."""
    return [d for d in docs if not d.get("sealed")]


def query_caseload(
    view: CaseloadView,
    *,
    officer_id: str | None = None,
    unit_id: str | None = None,
    risk_level: str | None = None,
    overdue_only: bool = False,
    include_closed: bool = False,
    now: datetime | None = None,
) -> list[Doc]:
    """An officer's or a unit's caseload, soonest contact due first."""
    rows = [present(d, now) for d in visible(view.select_docs(officer_id, unit_id))]
    if not include_closed:
        rows = [r for r in rows if r["status"] != "closed"]
    if risk_level is not None:
        rows = [r for r in rows if r["risk_level"] == risk_level]
    if overdue_only:
        rows = [r for r in rows if r["compliance"] != "on_track"]
    return sorted(rows, key=lambda r: (r["next_contact_due"] or "9999", r["name"]))


def search_key(doc: Doc) -> tuple[str | None, str, str | None]:
    """The indexed columns of a row: CRN, name folded for case-insensitive matching,
    court case number."""
    return doc.get("crn"), name_key(doc.get("name", "")), doc.get("case_number")


def name_key(name: str) -> str:
    """A name as searches compare it: case-folded, blanks collapsed."""
    return " ".join(name.casefold().split())


def like_pattern(text: str) -> str:
    """``%text%`` for SQL LIKE, with the wildcards in ``text`` taken literally
    (escaped with a backslash: ``ESCAPE '\\'``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_clauses(
    marker: str,
    *,
    crn: str | None,
    name: str | None,
    case_number: str | None,
) -> tuple[str, list[str]]:
    """The WHERE condition and parameters of a search, in one place for every SQL
    view (``marker`` is the driver's placeholder: ``?`` or ``%s``)."""
    clauses, params = [], []
    if crn is not None:
        clauses.append(f"crn = {marker}")
        params.append(crn)
    if case_number is not None:
        clauses.append(f"case_number = {marker}")
        params.append(case_number)
    if name is not None:
        # name_key is case-folded already; the pattern escapes LIKE's wildcards.
        clauses.append(f"name_key LIKE {marker} ESCAPE '\\'")
        params.append(like_pattern(name))
    if not clauses:
        raise ValueError("a search needs at least one criterion")
    return " AND ".join(clauses), params


def find_cases(
    view: CaseloadView,
    *,
    crn: str | None = None,
    name: str | None = None,
    case_number: str | None = None,
    now: datetime | None = None,
) -> list[Doc]:
    """Cases matching every criterion given (sealed ones never), by name: finding a
    person before opening a case, or to reach their record."""
    docs = visible(
        view.search_docs(
            crn=crn,
            name=None if name is None else name_key(name),
            case_number=case_number,
        )
    )
    return sorted(
        (present(d, now) for d in docs), key=lambda r: (r["name"], r["probationer_id"])
    )


def open_duplicates(
    view: CaseloadView, crn: str | None, court: str, case_number: str
) -> list[Doc]:
    """Cases still open (sealed ones included: a sealed case is still the person's
    case) with this CRN, or this court and case number."""
    found: dict[str, Doc] = {}
    if crn:
        for d in view.search_docs(crn=crn):
            found[d["probationer_id"]] = d
    for d in view.search_docs(case_number=case_number):
        if name_key(d.get("court") or "") == name_key(court):
            found[d["probationer_id"]] = d
    return sorted(
        (d for d in found.values() if d["status"] != "closed"),
        key=lambda d: d["probationer_id"],
    )


def workload(view: CaseloadView, unit_id: str | None = None) -> list[Doc]:
    """Active cases per officer, and the caseload weighted by supervision level."""
    per: dict[str, Doc] = {}
    for doc in visible(view.select_docs(None, unit_id)):
        if doc["status"] == "closed":
            continue
        row = per.setdefault(
            doc["officer_id"],
            {
                "officer_id": doc["officer_id"],
                "unit_id": doc["unit_id"],
                "cases": 0,
                "weighted": 0.0,
            },
        )
        row["cases"] += 1
        row["weighted"] += policies.WORKLOAD_WEIGHT[
            SupervisionLevel(doc["supervision_level"])
        ]
    return sorted(per.values(), key=lambda r: -r["weighted"])


def fold_all(events: Iterable[Any]) -> dict[str, Doc]:
    """Rows folded from a sequence of events (replays, "as of" views, tests)."""
    folding = Folding({})
    for event in events:
        folding.add(event)
    return folding.rows()


def docs_as_of(
    reader: EventReader, at: datetime, *, batch_size: int = 1000
) -> dict[str, Doc]:
    """Every case's row, kept state included, as the record stood at ``at``: the
    store replayed up to the last event recorded by then."""
    head = reader.store.max_notification_id_recorded_at(at) or 0
    return fold_all(
        event
        for page in select_events(reader, 0, head, batch_size=batch_size)
        for event, _ in page
    )


def caseload_as_of(
    reader: EventReader,
    at: datetime,
    *,
    sealed: Collection[UUID] = frozenset(),
    officer_id: str | None = None,
    unit_id: str | None = None,
    batch_size: int = 1000,
) -> list[Doc]:
    """The caseload as the record stood at ``at``: the store replayed up to the last
    event recorded by then, presented against that day's clock (what a court reviewing a
    supervision decision needs to see). ``sealed`` are the cases sealed *now*: a case
    sealed since is hidden from its past too."""
    docs = docs_as_of(reader, at, batch_size=batch_size)
    hidden = {str(i) for i in sealed}
    rows = [
        present(d, at)
        for d in docs.values()
        if d["probationer_id"] not in hidden
        if (officer_id is None or d["officer_id"] == officer_id)
        and (unit_id is None or d["unit_id"] == unit_id)
        and d["status"] != "closed"
    ]
    return sorted(rows, key=lambda r: (r["next_contact_due"] or "9999", r["name"]))


__all__ = [
    "COMPLIANCE",
    "CaseloadProjection",
    "CaseloadView",
    "Doc",
    "caseload_as_of",
    "docs_as_of",
    "find_cases",
    "fold",
    "fold_all",
    "listed",
    "present",
    "query_caseload",
    "workload",
]


RESTRICTING = (
    get_topic(Probationer.CaseRestricted),
    get_topic(Probationer.RestrictionLifted),
)


def restrictions(view: CaseloadView, reader: EventReader) -> dict[str, Doc | None]:
    """Each restricted case's restriction as of the store's head: the view's, then
    the restrictions and lifts recorded after its position (None: lifted), so that a
    case restricted a moment ago is never listed or fed while the view catches up."""
    position = view.max_tracking_id(reader.name) or 0
    found: dict[str, Doc | None] = dict(view.restricted_docs())
    for page in select_events(reader, position, head(reader), RESTRICTING):
        for event, _ in page:
            key = str(event.originator_id)
            if isinstance(event, Probationer.CaseRestricted):
                found[key] = {"mode": str(event.mode), "users": list(event.users)}
            else:
                found[key] = None
    return found
