"""CaseHistory: the only place that loads and saves aggregates, and answers point-in-time questions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.domain import DomainEventProtocol, Snapshot
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    JSONTranscoder,
    Notification,
    Transcoding,
)
from eventsourcing.utils import get_topic

from casestream.domain.errors import (
    CaseError,
    CaseNotFound,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    IntegrityBroken,
    InvalidInput,
    PartnerNotFound,
)
from casestream.domain.partner import Partner
from casestream.domain.probationer import Probationer
from casestream.domain.summaries import summarize
from casestream.domain.values import Actor
from casestream.integrity import Integrity, check_rows, note
from casestream.keys import SNAPSHOT_KEY
from casestream.persistence import IdempotentResult, RecordedAtRecorder
from casestream.persistence.snapshots import SealedSnapshotRecorder

logger = logging.getLogger(__name__)


# Fields every stored event has; the rest of an event is its payload.
ENVELOPE = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
        "actor_id",
        "actor_role",
        "effective_at",
        "reason",
    }
)


class DateAsISO(Transcoding):
    """Dates (birth, term start and end, target dates) stored as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class HistoryEntry:
    """One event of a case, with who recorded it, when, and when it took effect."""

    version: int
    event_type: str
    recorded_at: datetime | None
    effective_at: datetime | None
    actor_id: str
    actor_role: str
    reason: str | None
    data: dict[str, Any]

    @property
    def summary(self) -> str:
        return summarize(self.event_type, self.data)


@dataclass(frozen=True)
class LoadedCase:
    """A case as loaded, with whether the rows it was built from passed their checks."""

    case: Probationer
    integrity: Integrity
    recorded: dict[int, datetime]


@dataclass(frozen=True)
class CaseDiff:
    """The difference between a case at two points, with the events between them."""

    from_version: int
    to_version: int
    fields: dict[str, dict[str, Any]]
    entries_added: list[str]
    entries_changed: list[str]
    events: list[HistoryEntry]


# Parts of a case a diff compares (entries are compared one by one).
DIFF_FIELDS = (
    "person",
    "offences",
    "court_order",
    "supervision_type",
    "term_start",
    "term_end",
    "conditions",
    "officer_id",
    "unit_id",
    "status",
    "closure",
    "risk_level",
    "supervision_level",
    "supervision_basis",
    "plan",
    "sealed",
    "entries",
)


def _comparable(case: Probationer | None) -> dict[str, Any]:
    if case is None:
        return {}
    return {f: getattr(case, f) for f in DIFF_FIELDS}


def event_payload(event: DomainEventProtocol[Any]) -> dict[str, Any]:
    """The fields of an event beyond the common envelope."""
    return {
        f.name: getattr(event, f.name)
        for f in fields(cast(Any, event))
        if f.name not in ENVELOPE
    }


def event_type(event: DomainEventProtocol[Any]) -> str:
    return type(event).__name__


A = TypeVar("A", Probationer, Partner)


def _idempotency(key: str | None, fingerprint: str | None) -> tuple[str, str] | None:
    if key is None:
        return None
    return key, fingerprint or ""


class CaseHistory(Application[UUID]):
    """Records every entry of a probation case as an event; answers 'what did it say, when'."""

    snapshotting_intervals: ClassVar[dict[type, int]] = {Probationer: 50}

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        # Told of every case found broken on a read (metrics, alerts).
        self.integrity_listeners: list[Callable[[UUID, Integrity], None]] = []
        self.snapshot_listeners: list[Callable[[UUID, int, str], None]] = []
        super().__init__(env)

    def notification_pages(
        self,
        after: int = 0,
        stop: int | None = None,
        topics: Sequence[str] = (),
        batch_size: int = 1000,
    ) -> Iterator[list[Notification]]:
        """Stored events after a global position (up to ``stop``), one query a page.

        The library's notification log caps a page at ten; this reads the recorder.
        """
        position = after
        while stop is None or position < stop:
            page = self.recorder.select_notifications(
                position, batch_size, stop=stop, topics=topics, inclusive_of_start=False
            )
            if page:
                yield list(page)
            if len(page) < batch_size:
                return
            position = page[-1].id

    def construct_snapshot_store(self) -> EventStore[UUID]:
        """Snapshots sealed with their chain link and a MAC (``persistence.snapshots``)."""
        inner = self.factory.aggregate_recorder(purpose="snapshots")
        key = self.env.get(SNAPSHOT_KEY)
        self.sealed_snapshots = SealedSnapshotRecorder(
            inner,
            self.store,
            bytes.fromhex(key) if key else None,
            self._snapshot_rejected,
        )
        return EventStore(mapper=self.mapper, recorder=self.sealed_snapshots)

    def _snapshot_rejected(self, case_id: UUID, version: int, why: str) -> None:
        for listener in self.snapshot_listeners:
            listener(case_id, version, why)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot the case just saved, from the state this process checked and
        changed, never from a fresh unchecked replay (which could launder a forged
        event into a correctly sealed snapshot)."""
        if not self.snapshots:
            return
        new: dict[UUID, int] = {}
        for event in processing_event.events:
            new[event.originator_id] = new.get(event.originator_id, 0) + 1
        for oid, count in new.items():
            aggregate = processing_event.aggregates.get(oid)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if aggregate is None or not interval:
                continue
            if aggregate.version // interval > (aggregate.version - count) // interval:
                snapshot_class = getattr(type(aggregate), "Snapshot", Snapshot)
                self.snapshots.put([snapshot_class.take(aggregate)])

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    @property
    def store(self) -> RecordedAtRecorder:
        """The recorder, with the recorded-at queries casestream's recorders add."""
        return cast(RecordedAtRecorder, self.recorder)

    # Commands: each loads the case, calls one aggregate command, saves, and returns
    # the case's new version. A stale expected_version is refused before anything runs.

    def open_case(
        self,
        *,
        actor: Actor,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **fields: Any,
    ) -> UUID:
        idem = _idempotency(idempotency_key, fingerprint)
        replayed = self._replayed(idem)
        if replayed is not None:
            return replayed.originator_id
        case = Probationer.open(actor=actor, **fields)
        try:
            self.save(case, idempotency=idem)
        except IntegrityError:
            replayed = self._replayed(idem)
            if replayed is None:
                raise
            return replayed.originator_id
        return case.id

    def modify_conditions(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.modify_conditions(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def assign_officer(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.assign_officer(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def complete_assessment(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.complete_assessment(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def override_supervision_level(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.override_supervision_level(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def revise_plan(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.revise_plan(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def record_goal_progress(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.record_goal_progress(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def make_referral(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        """Refer to a partner, which must be active and offer the service."""
        partner_id = kw.get("partner_id")
        try:
            partner = self.get_partner(UUID(str(partner_id)))
        except ValueError:
            raise PartnerNotFound(f"no partner {partner_id!r}") from None
        partner.check_offers(str(kw.get("service_type")))
        return self._change(
            case_id,
            expected_version,
            lambda c: c.make_referral(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def change_referral_status(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.change_referral_status(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def log_contact(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.log_contact(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def record_drug_test(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.record_drug_test(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def record_violation(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.record_violation(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def respond_to_violation(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.respond_to_violation(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def record_court_action(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.record_court_action(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def correct_entry(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.correct_entry(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def void_entry(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.void_entry(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def add_note(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.add_note(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def close_case(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.close(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def reopen_case(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.reopen(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    def seal_case(
        self,
        case_id: UUID,
        expected_version: int | None = None,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change(
            case_id,
            expected_version,
            lambda c: c.seal(**kw),
            _idempotency(idempotency_key, fingerprint),
        )

    # Partner directory.

    def register_partner(
        self,
        *,
        actor: Actor,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **fields: Any,
    ) -> UUID:
        idem = _idempotency(idempotency_key, fingerprint)
        replayed = self._replayed(idem)
        if replayed is not None:
            return replayed.originator_id
        partner = Partner.register(actor=actor, **fields)
        return self._save_once(partner, idem).originator_id

    def update_partner_services(
        self,
        partner_id: UUID,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change_partner(
            partner_id, lambda p: p.update_services(**kw), idempotency_key, fingerprint
        )

    def deactivate_partner(
        self,
        partner_id: UUID,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        **kw: Any,
    ) -> int:
        return self._change_partner(
            partner_id, lambda p: p.deactivate(**kw), idempotency_key, fingerprint
        )

    def _change_partner(
        self,
        partner_id: UUID,
        command: Callable[[Partner], Any],
        key: str | None,
        fingerprint: str | None,
    ) -> int:
        return self._run(
            lambda: self.get_partner(partner_id),
            None,
            command,
            _idempotency(key, fingerprint),
        )

    def _save_once(
        self, aggregate: Partner | Probationer, idem: tuple[str, str] | None
    ) -> IdempotentResult:
        """Save; if a twin request with the same key won the race, its result stands."""
        try:
            self.save(aggregate, idempotency=idem)
        except IntegrityError:
            replayed = self._replayed(idem)
            if replayed is None:
                noun = "case" if isinstance(aggregate, Probationer) else "partner"
                raise ConcurrencyConflict(
                    f"{noun} {aggregate.id} was changed by someone else; reload and retry"
                ) from None
            return replayed
        return IdempotentResult(
            idem[1] if idem else "", aggregate.id, aggregate.version
        )

    def get_partner(self, partner_id: UUID) -> Partner:
        try:
            partner: object = self.repository.get(partner_id)
        except AggregateNotFoundError:
            raise PartnerNotFound(f"no partner {partner_id}") from None
        if not isinstance(partner, Partner):
            raise PartnerNotFound(f"no partner {partner_id}")
        return partner

    def list_partners(self) -> list[Partner]:
        """Every registered partner, in registration order (the directory is small)."""
        pages = self.notification_pages(topics=[get_topic(Partner.Registered)])
        return [
            self.get_partner(cast(UUID, n.originator_id))
            for page in pages
            for n in page
        ]

    # Reads: current state, state at a version, as recorded at T, as effective at T.

    def get_case(self, case_id: UUID, version: int | None = None) -> Probationer:
        return self.load_case(case_id, version).case

    def load_case(self, case_id: UUID, version: int | None = None) -> LoadedCase:
        """A case at its head (or a version), from its newest sealed snapshot and the
        events after it, every one checked against its chain link; a case that fails
        is still answered, with the failure, and reported."""
        snapshot = self.sealed_snapshots.latest(case_id, version)
        start = snapshot.stored.originator_version if snapshot else 1
        rows = self.store.case_rows(case_id, gte=start, lte=version)
        if snapshot is not None and not rows.events:
            snapshot, rows = None, self.store.case_rows(case_id, lte=version)
        if not rows.events and snapshot is None:
            raise CaseNotFound(f"no probationer {case_id}")
        integrity = check_rows(
            case_id,
            rows,
            from_link=snapshot.link if snapshot else None,
            to_head=version is None,
        )
        replay = rows.events[1:] if snapshot else rows.events
        aggregate: Any = (
            cast(Any, self.mapper.to_domain_event(snapshot.stored)).mutate(None)
            if snapshot
            else None
        )
        for row in replay:
            event: Any = self.mapper.to_domain_event(row.stored)
            aggregate = event.mutate(aggregate)
        if not isinstance(aggregate, Probationer):
            raise CaseNotFound(f"no probationer {case_id}")
        self._report(case_id, integrity)
        recorded = {e.stored.originator_version: e.recorded_at for e in rows.events}
        return LoadedCase(aggregate, integrity, recorded)

    def case_events(
        self, case_id: UUID
    ) -> tuple[list[DomainEventProtocol[UUID]], dict[int, datetime], Integrity]:
        """Every event of a case, checked, with the time the store recorded each."""
        rows = self.store.case_rows(case_id)
        if not rows.events:
            raise CaseNotFound(f"no probationer {case_id}")
        integrity = check_rows(case_id, rows)
        self._report(case_id, integrity)
        return (
            [self.mapper.to_domain_event(r.stored) for r in rows.events],
            {r.stored.originator_version: r.recorded_at for r in rows.events},
            integrity,
        )

    def _report(self, case_id: UUID, integrity: Integrity) -> None:
        note(integrity)
        if integrity.intact:
            return
        logger.error(
            "case %s fails its integrity check at version %s: %s",
            case_id,
            integrity.broken_at,
            integrity.problem,
        )
        for listener in self.integrity_listeners:
            listener(case_id, integrity)

    def case_as_recorded_at(self, case_id: UUID, at: datetime) -> Probationer:
        """What the record said at ``at``: only events the store had recorded by then."""
        version = self.store.max_version_recorded_at(case_id, at)
        if version is None:
            raise CaseNotFound(f"probationer {case_id} had no record at {at}")
        return self.get_case(case_id, version=version)

    def case_as_effective_at(self, case_id: UUID, at: datetime) -> Probationer:
        """What we now know was true at ``at``: events that had taken effect by then.

        Events are applied in effective-time order (ties by version), so a late entry
        lands where it belongs in the story, and corrections (which take the effective
        time of what they correct) amend it there.
        """
        events = [
            e
            for e in self.case_events(case_id)[0]
            if cast(Probationer.Event, e).effective_at <= at
        ]
        if not events or not isinstance(events[0], Probationer.CaseOpened):
            raise CaseNotFound(f"probationer {case_id} had not been opened at {at}")
        events.sort(
            key=lambda e: (
                cast(Probationer.Event, e).effective_at,
                e.originator_version,
            )
        )
        case = cast(Probationer, events[0].mutate(None))
        for event in events[1:]:
            cast(Probationer.Event, event).apply(case)
            case.version = event.originator_version
        return case

    def diff(self, case_id: UUID, from_at: datetime, to_at: datetime) -> CaseDiff:
        """What the record changed between two recorded times, and which events did it."""
        if to_at < from_at:
            raise InvalidInput("to", "must not be before from")
        after = self.case_as_recorded_at(case_id, to_at)
        try:
            before: Probationer | None = self.case_as_recorded_at(case_id, from_at)
        except CaseNotFound:
            before = None
        old = _comparable(before)
        new = _comparable(after)
        fields_changed = {
            k: {"from": old.get(k), "to": new[k]}
            for k in new
            if k != "entries" and old.get(k) != new[k]
        }
        old_entries, new_entries = old.get("entries", {}), new["entries"]
        from_version = before.version if before is not None else 0
        return CaseDiff(
            from_version=from_version,
            to_version=after.version,
            fields=fields_changed,
            entries_added=sorted(set(new_entries) - set(old_entries)),
            entries_changed=sorted(
                k
                for k in set(new_entries) & set(old_entries)
                if new_entries[k] != old_entries[k]
            ),
            events=[
                h
                for h in self.history(case_id)
                if from_version < h.version <= after.version
            ],
        )

    def late_entries(self, case_id: UUID, at: datetime) -> list[int]:
        """Versions that took effect by ``at`` but were recorded after it: what the
        record at ``at`` could not yet say (a court weighs them differently)."""
        return [
            h.version
            for h in self.history(case_id)
            if h.recorded_at is not None
            and h.recorded_at > at
            and h.effective_at is not None
            and h.effective_at <= at
        ]

    def history(self, case_id: UUID) -> list[HistoryEntry]:
        """Every event of a case in order, with its recorded time from the store."""
        events, recorded, _ = self.case_events(case_id)
        return [
            HistoryEntry(
                version=e.originator_version,
                event_type=event_type(e),
                recorded_at=recorded.get(e.originator_version),
                effective_at=getattr(e, "effective_at", None),
                actor_id=getattr(e, "actor_id", ""),
                actor_role=getattr(e, "actor_role", ""),
                reason=getattr(e, "reason", None),
                data=event_payload(e),
            )
            for e in events
        ]

    def _replayed(self, idem: tuple[str, str] | None) -> IdempotentResult | None:
        """The first result of a repeated idempotency key (same request), if any."""
        if idem is None:
            return None
        found = self.store.lookup_idempotency(idem[0])
        if found is not None and found.fingerprint != idem[1]:
            raise IdempotencyKeyReused(idem[0])
        return found

    def _change(
        self,
        case_id: UUID,
        expected: int | None,
        command: Callable[[Probationer], Any],
        idem: tuple[str, str] | None = None,
    ) -> int:
        return self._run(lambda: self._writable(case_id), expected, command, idem)

    def _writable(self, case_id: UUID) -> Probationer:
        loaded = self.load_case(case_id)
        if not loaded.integrity.intact:
            raise IntegrityBroken(
                f"case {case_id} fails its integrity check at version "
                f"{loaded.integrity.broken_at} ({loaded.integrity.problem}); nothing "
                "is written on it until an administrator has investigated"
            )
        return loaded.case

    def _run(
        self,
        load: Callable[[], A],
        expected: int | None,
        command: Callable[[A], Any],
        idem: tuple[str, str] | None,
    ) -> int:
        """Load, check the expected version, run one command, save atomically.

        With an idempotency key, a repeat of the same request returns the first
        result and writes nothing; the key is stored in the events' transaction.
        """
        replayed = self._replayed(idem)
        if replayed is not None:
            return replayed.originator_version
        try:
            aggregate = load()
            if expected is not None and aggregate.version != expected:
                raise ConcurrencyConflict(
                    f"case {aggregate.id} is at version {aggregate.version}, "
                    f"not {expected}"
                )
            command(aggregate)
        except CaseError:
            # A twin request with the same key may have committed since we looked:
            # then its result stands, and this refusal is not news to the caller.
            replayed = self._replayed(idem)
            if replayed is not None:
                return replayed.originator_version
            raise
        return self._save_once(aggregate, idem).originator_version
