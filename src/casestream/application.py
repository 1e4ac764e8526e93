"""CaseHistory: the only place that loads and saves aggregates, and answers point-in-time questions."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
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
    Mapper,
    Notification,
    Transcoding,
)
from eventsourcing.utils import get_topic

from casestream.domain import commands as cmd
from casestream.domain.directory import Officer, Unit, officer_key, unit_key
from casestream.domain.errors import (
    AlreadyRegistered,
    CaseError,
    CaseNotFound,
    ConcurrencyConflict,
    ErasureUnavailable,
    IdempotencyKeyReused,
    IntegrityBroken,
    InvalidInput,
    PartnerNotFound,
    PossibleDuplicate,
    UnknownOfficer,
    UnknownUnit,
)
from casestream.domain.partner import Partner
from casestream.domain.probationer import Probationer
from casestream.domain.values import Actor
from casestream.integrity import Integrity, check_rows, note
from casestream.keys import SNAPSHOT_KEY
from casestream.persistence import ChainedEvent, IdempotentResult, RecordedAtRecorder
from casestream.persistence.snapshots import SealedSnapshotRecorder
from casestream.shredding import ShreddingMapper, is_encrypted, mapper_for

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
class LoadedCase:
    """A case as loaded, with whether the rows it was built from passed their checks."""

    case: Probationer
    integrity: Integrity
    recorded: dict[int, datetime]
    # The chain link of the last row read (the case's head when loaded at its head).
    head_link: bytes | None = None


def event_payload(event: DomainEventProtocol[Any]) -> dict[str, Any]:
    """The fields of an event beyond the common envelope."""
    return {
        f.name: getattr(event, f.name)
        for f in fields(cast(Any, event))
        if f.name not in ENVELOPE
    }


def event_type(event: DomainEventProtocol[Any]) -> str:
    return type(event).__name__


@dataclass(frozen=True)
class Idempotency:
    """The key a request may be retried under, and what that request was."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class Written:
    """What a command wrote: the aggregate and its version after the write."""

    id: UUID
    version: int


# What a command may be run on.
Target = Probationer | Partner | Officer | Unit
D = TypeVar("D", Partner, Officer, Unit)
# Commands that create their aggregate rather than run on one.
CREATING = (cmd.OpenCase, cmd.RegisterPartner, cmd.RegisterUnit, cmd.RegisterOfficer)

# A command that lost a race and named no version is retried this many times.
RETRIES = 8

# The last version of a case whose stored row was checked, and that row's chain link.
Checked = tuple[int, bytes | None]

# Cases kept decided-on in memory per process (least recently used dropped first).
CASE_CACHE_SIZE = 1000


@dataclass
class _CachedCase:
    """A case as this process last checked or wrote it.

    ``case`` is at ``case.version``; the stored rows were checked up to ``checked``,
    whose chain link is ``link`` (``checked`` 0: from genesis). Rows after
    ``checked`` (this process's own writes, or anyone's since) are read and checked
    against that link before the next command decides on the case.
    """

    case: Probationer
    checked: int
    link: bytes | None


class CaseHistory(Application[UUID]):
    """Records every entry of a probation case as an event; answers 'what did it say, when'."""

    snapshotting_intervals: ClassVar[dict[type, int]] = {Probationer: 50}

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        # Told of every case found broken on a read (metrics, alerts).
        self.integrity_listeners: list[Callable[[UUID, Integrity], None]] = []
        self.snapshot_listeners: list[Callable[[UUID, int, str], None]] = []
        # Set by construct_snapshot_store (not called when snapshots are off).
        self.sealed_snapshots: SealedSnapshotRecorder | None = None
        # Where opening a case looks for open cases of the same person (ids), set by
        # whoever runs the read models (the API); None: no look (demo, imports, tests
        # of the aggregate). Consulted after an idempotent replay, so a retried open
        # returns its first result instead of finding itself.
        self.find_duplicates: Callable[[cmd.OpenCase], list[str]] | None = None
        # The command path's cache: a case is taken out while one command decides on
        # it and put back only after that command's events are stored, so no two
        # commands share an object and a failed one leaves nothing half-changed.
        self._cases: OrderedDict[UUID, _CachedCase] = OrderedDict()
        self._cases_lock = threading.Lock()
        super().__init__(env)
        self._case_cache_size = int(self.env.get("CASE_CACHE_SIZE") or CASE_CACHE_SIZE)

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

    def construct_mapper(self) -> Mapper[UUID]:
        """Each case's personal data encrypted under its own key (``shredding.py``)."""
        return mapper_for(self.env, self.factory, self.construct_transcoder())

    def erase(self, case_id: UUID) -> None:
        """Destroy an erased case's data key and drop its snapshots. Run after the
        ``Erased`` event is stored (by ``execute``); running it again is harmless.
        The command cache lets go of the case too: it held the person's data decrypted."""
        with self._cases_lock:
            self._cases.pop(case_id, None)
        mapper = self.mapper
        if not isinstance(mapper, ShreddingMapper) or mapper.keyring is None:
            return
        mapper.keyring.destroy(str(case_id))
        sealed = self.sealed_snapshots
        if sealed is not None:
            mapper.keyring.table.drop_snapshots(sealed.inner, str(case_id))

    def compact_store(self) -> list[str]:
        """Make what erasures deleted or overwrote unrecoverable from the database
        files (``persistence/data_keys.py``); what was done, for the record."""
        mapper = self.mapper
        if not isinstance(mapper, ShreddingMapper) or mapper.keyring is None:
            return []
        return mapper.keyring.table.compact()

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
        taken = []
        for oid, count in new.items():
            aggregate = processing_event.aggregates.get(oid)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if aggregate is None or not interval:
                continue
            if aggregate.version // interval > (aggregate.version - count) // interval:
                snapshot_class = getattr(type(aggregate), "Snapshot", Snapshot)
                taken.append(snapshot_class.take(aggregate))
        if taken:  # one write for all of a save's snapshots (a bulk import has many)
            self.snapshots.put(taken)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    @property
    def store(self) -> RecordedAtRecorder:
        """The recorder, with the recorded-at queries casestream's recorders add."""
        return cast(RecordedAtRecorder, self.recorder)

    # Commands: one entry point. Load once, authorize on that state, decide, append
    # atomically with the idempotency key; retry a lost race unless the caller named
    # the version it was based on.

    def execute(
        self,
        target: UUID | None,
        command: cmd.Command,
        *,
        actor: Actor,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
        authorize: Callable[[Target], None] | None = None,
    ) -> Written:
        """Run one command on the case or partner ``target`` (None for a command that
        creates one) and return what it wrote.

        A repeat of an idempotent request returns the first result before anything
        else is checked (the partner may have been deactivated since). Without
        ``expected_version`` a version conflict is retried on a fresh load, so
        officers logging contacts on one case at once all succeed; with it, a stale
        version is a ``ConcurrencyConflict``.
        """
        idem = (idempotency.key, idempotency.fingerprint) if idempotency else None
        replayed = self._replayed(idem)
        if replayed is not None:
            return Written(replayed.originator_id, replayed.originator_version)
        for attempt in range(RETRIES):
            try:
                aggregate, checked = self._decide(
                    target, command, actor, expected_version, authorize
                )
            except CaseError:
                # A twin request with the same key may have committed since we looked:
                # then its result stands, and this refusal is not news to the caller.
                replayed = self._replayed(idem)
                if replayed is not None:
                    return Written(replayed.originator_id, replayed.originator_version)
                raise
            try:
                self.save(aggregate, idempotency=idem)
                self._keep(aggregate, checked)
            except IntegrityError:
                replayed = self._replayed(idem)
                if replayed is not None:
                    return Written(replayed.originator_id, replayed.originator_version)
                if expected_version is not None or target is None:
                    raise ConcurrencyConflict(
                        f"{aggregate.id} was changed by someone else; reload and retry"
                    ) from None
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
                continue
            if isinstance(command, cmd.EraseCase):
                self.erase(aggregate.id)
            return Written(aggregate.id, aggregate.version)
        raise ConcurrencyConflict(
            f"{target} is being changed by many writers at once; retry shortly"
        )

    def _decide(
        self,
        target: UUID | None,
        command: cmd.Command,
        actor: Actor,
        expected_version: int | None,
        authorize: Callable[[Target], None] | None,
    ) -> tuple[Target, Checked]:
        """Load (or create) the aggregate, authorize, check, and run the command;
        with it, how far its stored rows were checked (for the cache)."""
        aggregate: Target
        checked: Checked = (0, None)
        if isinstance(command, cmd.OpenCase):
            aggregate = Probationer.open(command, actor, target)
            self.check_assignable(command.officer_id, command.unit_id)
            self._check_duplicates(command)
        elif isinstance(command, cmd.RegisterPartner):
            aggregate = Partner.register(command, actor, target)
        elif isinstance(command, cmd.RegisterUnit):
            if self.find_unit(command.unit_id) is not None:
                raise AlreadyRegistered(f"unit {command.unit_id!r} is registered")
            aggregate = Unit.register(command, actor)
        elif isinstance(command, cmd.RegisterOfficer):
            if self.find_officer(command.officer_id) is not None:
                raise AlreadyRegistered(f"officer {command.officer_id!r} is registered")
            self.check_assignable(None, command.unit_id)
            aggregate = Officer.register(command, actor)
        elif target is None:
            raise InvalidInput("id", f"{type(command).__name__} needs a target")
        elif isinstance(command, cmd.PartnerCommand):
            aggregate = self.get_partner(target)
        else:
            aggregate, checked = self._writable(target)
            if isinstance(command, cmd.EraseCase):
                self._check_shreddable(target)
        if authorize is not None:
            authorize(aggregate)
        if expected_version is not None and aggregate.version != expected_version:
            raise ConcurrencyConflict(
                f"{aggregate.id} is at version {aggregate.version}, "
                f"not {expected_version}"
            )
        if isinstance(command, cmd.MakeReferral):
            try:
                partner_id = UUID(str(command.partner_id))
            except ValueError:
                raise PartnerNotFound(f"no partner {command.partner_id!r}") from None
            partner = self.get_partner(partner_id)
            partner.check_offers(command.service_type)
        if isinstance(command, cmd.RecordConsent):  # to a partner in the directory
            self.get_partner(UUID(str(command.recipient_partner_id)))
        if not isinstance(command, CREATING):
            aggregate.execute(command, actor)
        if isinstance(command, cmd.AssignOfficer):
            # After the aggregate's own rules (a reason, an open case): a transfer
            # is checked against the directory only once it is otherwise valid.
            self.check_assignable(command.officer_id, command.unit_id)
        return aggregate, checked

    def _check_shreddable(self, case_id: UUID) -> None:
        """Erasure destroys a key: refuse it where that would leave plaintext."""
        mapper = self.mapper
        if not isinstance(mapper, ShreddingMapper) or mapper.keyring is None:
            raise ErasureUnavailable(
                "this store keeps personal data unencrypted (no master key: run "
                "`casestream keys init`); it cannot erase by destroying a key"
            )
        clear = [
            r.stored.originator_version
            for r in self.store.case_rows(case_id).events
            if not is_encrypted(r.stored.state)
        ]
        if clear:
            raise ErasureUnavailable(
                f"case {case_id} has events written before encryption (versions "
                f"{clear[:5]}...); destroying its key would not erase them"
            )

    def _check_duplicates(self, command: cmd.OpenCase) -> None:
        """Refuse a second open case for a CRN, or a court and case number, unless
        the command confirms it (the aggregate then required a reason).

        The aggregate cannot see other cases, so the application asks the caseload
        read model, which indexes every case by CRN and case number. A read model
        lags: ``find_duplicates`` waits for it to reach the head first, and two opens
        racing each other can still both pass. The check is a warning to a person
        about to type a case in twice, not a uniqueness constraint."""
        if command.confirm_duplicate or self.find_duplicates is None:
            return
        existing = self.find_duplicates(command)
        if existing:
            raise PossibleDuplicate(
                existing,
                "a case with this CRN, or this court and case number, is already "
                "open; send confirm_duplicate with a reason if a second case is right",
            )

    # The directory: who cases may be assigned to.

    def check_assignable(self, officer_id: str | None, unit_id: str) -> None:
        """Refuse an officer or unit the directory does not list: a case assigned
        to a name nobody holds would be out of every officer's reach."""
        if self.find_unit(unit_id) is None:
            raise UnknownUnit(
                "unit_id",
                f"no unit {unit_id!r} in the directory; register it (POST /units)",
            )
        if officer_id is not None and self.find_officer(officer_id) is None:
            raise UnknownOfficer(
                "officer_id",
                f"no officer {officer_id!r} in the directory; register them "
                "(POST /officers)",
            )

    def find_officer(self, officer_id: str) -> Officer | None:
        """The officer registered under this user id, if any (one load by id)."""
        return self._find(officer_key(officer_id), Officer)

    def find_unit(self, unit_id: str) -> Unit | None:
        """The unit registered under this id, if any (one load by id)."""
        return self._find(unit_key(unit_id), Unit)

    def _find(self, key: UUID, kind: type[D]) -> D | None:
        try:
            found: object = self.repository.get(key)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, kind) else None

    def list_officers(self) -> list[Officer]:
        """Every registered officer, in registration order."""
        return self._replay_all([Officer.OfficerRegistered], Officer)

    def list_units(self) -> list[Unit]:
        """Every registered unit, in registration order."""
        return self._replay_all([Unit.UnitRegistered], Unit)

    def _replay_all(self, classes: list[type[Any]], kind: type[D]) -> list[D]:
        """Every aggregate of a kind, in one pass over its events (a query a page)."""
        found: dict[UUID, Any] = {}
        for page in self.notification_pages(topics=[get_topic(c) for c in classes]):
            for notification in page:
                event: Any = self.mapper.to_domain_event(notification)
                oid = cast(UUID, notification.originator_id)
                found[oid] = event.mutate(found.get(oid))
        return [a for a in found.values() if isinstance(a, kind)]

    def get_partner(self, partner_id: UUID) -> Partner:
        try:
            partner: object = self.repository.get(partner_id)
        except AggregateNotFoundError:
            raise PartnerNotFound(f"no partner {partner_id}") from None
        if not isinstance(partner, Partner):
            raise PartnerNotFound(f"no partner {partner_id}")
        return partner

    def list_partners(self) -> list[Partner]:
        """Every registered partner, in registration order: one pass over the partner
        events (a query a page), not one load per partner."""
        return self._replay_all(
            [Partner.Registered, Partner.ServicesUpdated, Partner.Deactivated], Partner
        )

    # Reads: current state, state at a version, as recorded at T, as effective at T.

    def get_case(self, case_id: UUID, version: int | None = None) -> Probationer:
        return self.load_case(case_id, version).case

    def load_case(self, case_id: UUID, version: int | None = None) -> LoadedCase:
        """A case at its head (or a version), from its newest sealed snapshot and the
        events after it, every one checked against its chain link; a case that fails
        is still answered, with the failure, and reported."""
        sealed = self.sealed_snapshots
        snapshot = sealed.latest(case_id, version) if sealed is not None else None
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
        return LoadedCase(aggregate, integrity, recorded, rows.events[-1].link)

    def checked_rows(self, case_id: UUID) -> tuple[list[ChainedEvent], Integrity]:
        """Every stored row of a case in one read, checked (and a failure reported)."""
        rows = self.store.case_rows(case_id)
        if not rows.events:
            raise CaseNotFound(f"no probationer {case_id}")
        integrity = check_rows(case_id, rows)
        self._report(case_id, integrity)
        return rows.events, integrity

    def case_events(
        self, case_id: UUID
    ) -> tuple[list[DomainEventProtocol[UUID]], dict[int, datetime], Integrity]:
        """Every event of a case, checked, with the time the store recorded each."""
        rows, integrity = self.checked_rows(case_id)
        return (
            [self.mapper.to_domain_event(r.stored) for r in rows],
            {r.stored.originator_version: r.recorded_at for r in rows},
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
        with self._cases_lock:  # nothing is decided on a broken case from memory
            self._cases.pop(case_id, None)
        for listener in self.integrity_listeners:
            listener(case_id, integrity)

    def _replayed(self, idem: tuple[str, str] | None) -> IdempotentResult | None:
        """The first result of a repeated idempotency key (same request), if any."""
        if idem is None:
            return None
        found = self.store.lookup_idempotency(idem[0])
        if found is not None and found.fingerprint != idem[1]:
            raise IdempotencyKeyReused(idem[0])
        return found

    def _writable(self, case_id: UUID) -> tuple[Probationer, Checked]:
        """The case a command decides on, checked to its head: from the cache,
        fast-forwarded over the rows stored since it was last checked (one query),
        else from a full checked load."""
        with self._cases_lock:
            cached = self._cases.pop(case_id, None)
        if cached is not None:
            found = self._fast_forward(case_id, cached)
            if found is not None:
                return found
        loaded = self.load_case(case_id)
        if not loaded.integrity.intact:
            raise IntegrityBroken(
                f"case {case_id} fails its integrity check at version "
                f"{loaded.integrity.broken_at} ({loaded.integrity.problem}); nothing "
                "is written on it until an administrator has investigated"
            )
        return loaded.case, (loaded.case.version, loaded.head_link)

    def _fast_forward(
        self, case_id: UUID, cached: _CachedCase
    ) -> tuple[Probationer, Checked] | None:
        """The cached case brought to the store's head, every row after the checked
        one verified against its link (as a load from a sealed snapshot does); None
        when the rows do not continue what was cached (then a full load decides)."""
        if cached.checked > cached.case.version:
            return None
        rows = self.store.case_rows(case_id, gte=max(cached.checked, 1))
        integrity = check_rows(
            case_id, rows, from_link=cached.link if cached.checked else None
        )
        if not integrity.intact or not rows.events:
            return None
        head = rows.events[-1]
        case: Any = cached.case
        if head.stored.originator_version < case.version:
            return None  # rows this process wrote are gone: let the full load say so
        for row in rows.events:
            if row.stored.originator_version > case.version:
                event: Any = self.mapper.to_domain_event(row.stored)
                case = event.mutate(case)
        return cast(Probationer, case), (head.stored.originator_version, head.link)

    def _keep(self, aggregate: Target, checked: Checked) -> None:
        """Put a case whose command was stored back in the cache."""
        if not isinstance(aggregate, Probationer) or self._case_cache_size <= 0:
            return
        version, link = checked
        with self._cases_lock:
            self._cases[aggregate.id] = _CachedCase(aggregate, version, link)
            self._cases.move_to_end(aggregate.id)
            while len(self._cases) > self._case_cache_size:
                self._cases.popitem(last=False)
