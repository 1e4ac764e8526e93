"""The Probationer aggregate: one person's supervision case, rebuilt from its events.

State is kept as plain dicts, lists, strings and dates so that snapshots and the API can
transcode it without custom classes. Entries (assessments, contacts, violations…) are
keyed by their id and remember the version that wrote them, so a correction can point at
exactly what it corrects while the original stays in the history.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from functools import singledispatchmethod
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from casestream.domain import commands as cmd, derived, policies
from casestream.domain.errors import (
    CaseAlreadyOpen,
    CaseClosed,
    CaseErasedError,
    CaseSealedError,
    EntryAlreadyVoided,
    InvalidEffectiveTime,
    InvalidInput,
    InvalidTransition,
    NotEntitled,
    ReasonRequired,
    StaleEntryVersion,
    UnknownEntry,
)
from casestream.domain.values import (
    ERASED,
    Actor,
    Agreement,
    AssessmentPurpose,
    Attendance,
    CaseStatus,
    ClosureOutcome,
    ContactType,
    CourtOutcome,
    DrugTestMethod,
    DrugTestResult,
    EntryKind,
    GoalStatus,
    IncentiveType,
    Instrument,
    NeedArea,
    NeedSeverity,
    NoteCategory,
    PlanPrompt,
    PlanType,
    ReferralStatus,
    Response,
    RestrictionMode,
    RiskLevel,
    ServiceType,
    SupervisionLevel,
    SupervisionLevelBasis,
    SupervisionType,
    ViolationKind,
    ViolationSeverity,
)

E = TypeVar("E", bound=str)
Entry = dict[str, Any]


class Unset:
    """Marks an argument not given (``None`` is a meaningful effective time)."""


UNSET = Unset()


def parse(enum: type[E], value: object, field: str) -> E:
    """Turn a plain value into a member of ``enum``, or refuse it naming the field."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(m) for m in enum)  # type: ignore[attr-defined]
        raise InvalidInput(field, f"{value!r} is not one of: {allowed}") from None


def require_text(value: object, field: str, *, max_length: int = 10_000) -> str:
    """Refuse blank or oversized free text."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must be non-empty text")
    if "\x00" in value:  # PostgreSQL text cannot hold it; no record needs it
        raise InvalidInput(field, "must not contain U+0000 (NUL)")
    if len(value) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters")
    return value


def require_reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise ReasonRequired(what)
    return require_text(reason, "reason")


# Fields a correction may change, per entry kind, each with the check its new value passes.
def _text(field: str) -> Callable[[object], object]:
    return lambda v: require_text(v, field)


def _enum(enum: type[E], field: str) -> Callable[[object], object]:
    return lambda v: parse(enum, v, field)


def _bool(field: str) -> Callable[[object], object]:
    def check(v: object) -> object:
        if not isinstance(v, bool):
            raise InvalidInput(field, "must be true or false")
        return v

    return check


def _int(field: str) -> Callable[[object], object]:
    def check(v: object) -> object:
        if not isinstance(v, int) or isinstance(v, bool):
            raise InvalidInput(field, "must be an integer")
        return v

    return check


def _scores(v: object) -> object:
    return check_scores(v)


def _results(v: object) -> object:
    return check_results(v)


CORRECTABLE: dict[EntryKind, dict[str, Callable[[object], object]]] = {
    EntryKind.ASSESSMENT: {
        "scores": _scores,
        "total": _int("total"),
        "risk_level": _enum(RiskLevel, "risk_level"),
        "instrument_version": _text("instrument_version"),
    },
    EntryKind.REFERRAL: {
        "service_type": _enum(ServiceType, "service_type"),
        "need_addressed": _enum(NeedArea, "need_addressed"),
    },
    EntryKind.CONTACT: {
        "contact_type": _enum(ContactType, "contact_type"),
        "attendance": _enum(Attendance, "attendance"),
        "location": _text("location"),
        "summary": _text("summary"),
        "sensitive": _bool("sensitive"),
        "complied": _bool("complied"),
        "victim_info": _bool("victim_info"),
    },
    EntryKind.DRUG_TEST: {
        "method": _enum(DrugTestMethod, "method"),
        "results": _results,
    },
    EntryKind.VIOLATION: {
        "kind": _enum(ViolationKind, "kind"),
        "severity": _enum(ViolationSeverity, "severity"),
        "description": _text("description"),
    },
    EntryKind.RESPONSE: {
        "response": _enum(Response, "response"),
        "authorised_by": _text("authorised_by"),
    },
    EntryKind.COURT_ACTION: {
        "outcome": _enum(CourtOutcome, "outcome"),
        "hearing": _text("hearing"),
    },
    EntryKind.NOTE: {
        "text": _text("text"),
        "category": _enum(NoteCategory, "category"),
        "sensitive": _bool("sensitive"),
        "victim_info": _bool("victim_info"),
    },
}


def check_scores(scores: object) -> dict[str, int]:
    if not isinstance(scores, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in scores.items()
    ):
        raise InvalidInput("scores", "must map domain or item names to integer scores")
    return dict(scores)


def check_results(results: object) -> dict[str, str]:
    if not isinstance(results, Mapping) or not results:
        raise InvalidInput("results", "must map each substance tested to a result")
    return {
        require_text(k, "results"): parse(DrugTestResult, v, f"results.{k}")
        for k, v in results.items()
    }


def overall_result(results: Mapping[str, str]) -> DrugTestResult:
    """The most serious per-substance result stands for the whole test."""
    order = list(DrugTestResult)
    return max((DrugTestResult(r) for r in results.values()), key=order.index)


def _unless_erased(
    apply: Callable[[Any, Probationer], None],
) -> Callable[[Any, Probationer], None]:
    """An event method that skips an event whose content was erased (see
    ``Probationer.Event.__init_subclass__``)."""

    def guarded(event: Any, aggregate: Probationer) -> None:
        if not event.__dict__.get("content_erased"):
            apply(event, aggregate)
        elif isinstance(event, Probationer.CaseOpened):
            aggregate.forget_person(event.effective_at)

    guarded.__doc__ = apply.__doc__
    return guarded


class Probationer(Aggregate):
    """A person's supervision case: every entry an immutable event, state derived."""

    # Version of the aggregate's snapshot state: 2 added ``complied`` to contacts,
    # 3 added ``sealed``, 4 ``restriction``, 5 ``supervision_history``, 6 ``erased``.
    class_version = 6
    # Its events and snapshots carry a person's data: the store encrypts them under
    # the case's own key, so that an erasure order can destroy it (shredding.py).
    personal_data = True

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        for entry in state.get("entries", {}).values():
            if entry.get("entry_kind") == EntryKind.CONTACT:
                entry.setdefault("complied", None)

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state.setdefault("sealed", None)

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        state.setdefault("restriction", None)

    @staticmethod
    def upcast_v4_v5(state: dict[str, Any]) -> None:
        # Older snapshots kept only the current level: it stands from the opening.
        state.setdefault(
            "supervision_history",
            [[state["opened_at"], state["supervision_level"], 1]],
        )
        state.setdefault("restriction", None)

    @staticmethod
    def upcast_v5_v6(state: dict[str, Any]) -> None:
        state.setdefault("erased", None)

    # Events are the stored contract: add fields with defaults or upcast, never rename.

    class Event(Aggregate.Event):
        """Every case event says who recorded it, when it took effect, and why.

        ``class_version`` is the event's schema version (inherited as 1); a class that
        changes shape raises it and upcasts stored older versions (never rewrites them).
        """

        class_version = 1
        personal_data = True

        actor_id: str
        actor_role: str
        effective_at: datetime
        reason: str | None

        def __init_subclass__(cls, **kwargs: Any) -> None:
            """Every event method learns one more rule: an event read after its
            case's key was destroyed (``content_erased``) changes nothing but the
            version, since what it said is gone; an erased opening leaves the
            skeleton of a case. Wrapped here once, not repeated in each method."""
            super().__init_subclass__(**kwargs)
            own = cls.__dict__.get("apply")
            if own is not None:
                cls.apply = _unless_erased(own)  # type: ignore[method-assign,assignment]

    class CaseOpened(Event, Aggregate.Created):
        # What a reader is shown of the opening once its content was erased.
        erased_placeholders: ClassVar[dict[str, dict[str, Any]]] = {
            "person": {"name": ERASED, "identifiers": {"crn": ERASED}},
            "court_order": {"court": ERASED, "case_number": ERASED},
        }

        person: dict[str, Any]
        offences: list[dict[str, Any]]
        court_order: dict[str, Any]
        supervision_type: str
        term_start: date
        term_end: date | None
        conditions: list[dict[str, Any]]
        officer_id: str
        unit_id: str

        def apply(self, aggregate: Probationer) -> None:
            a = aggregate
            a.person = dict(self.person)
            a.offences = [dict(o) for o in self.offences]
            a.court_order = dict(self.court_order)
            a.supervision_type = self.supervision_type
            a.term_start = self.term_start
            a.term_end = self.term_end
            a.conditions = {c["condition_id"]: dict(c) for c in self.conditions}
            a.officer_id = self.officer_id
            a.unit_id = self.unit_id
            a.opened_at = self.effective_at
            a.status = CaseStatus.ACTIVE
            a.closure = None
            a.risk_level = None
            a.supervision_level = SupervisionLevel.PENDING_ASSESSMENT
            a.supervision_basis = SupervisionLevelBasis.POLICY
            a.supervision_history = [
                [self.effective_at, SupervisionLevel.PENDING_ASSESSMENT, 1]
            ]
            a.plan = None
            a.plan_versions = []
            a.entries = {}
            a.entry_kinds = {}
            a.sealed = None
            a.restriction = None
            a.erased = None

    class ConditionsModified(Event):
        added: list[dict[str, Any]]
        removed: list[str]
        court_order_ref: str

        def apply(self, aggregate: Probationer) -> None:
            for condition_id in self.removed:
                aggregate.conditions.pop(condition_id, None)
            for c in self.added:
                aggregate.conditions[c["condition_id"]] = dict(c)

    class OfficerAssigned(Event):
        officer_id: str
        unit_id: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.officer_id = self.officer_id
            aggregate.unit_id = self.unit_id

    class AssessmentCompleted(Event):
        assessment_id: str
        instrument: str
        instrument_version: str
        purpose: str
        scores: dict[str, int]
        total: int
        risk_level: str
        needs: list[dict[str, Any]]
        strengths: list[str]
        override_level: str | None

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.ASSESSMENT,
                self.assessment_id,
                instrument=self.instrument,
                instrument_version=self.instrument_version,
                purpose=self.purpose,
                scores=dict(self.scores),
                total=self.total,
                risk_level=self.risk_level,
                needs=[dict(n) for n in self.needs],
                strengths=list(self.strengths),
                override_level=self.override_level,
            )
            aggregate.refresh_risk()

    class SupervisionLevelSet(Event):
        level: str
        basis: str
        inputs: dict[str, Any]
        policy: str | None

        def apply(self, aggregate: Probationer) -> None:
            aggregate.supervision_level = SupervisionLevel(self.level)
            aggregate.supervision_basis = SupervisionLevelBasis(self.basis)
            aggregate.supervision_history.append(
                [self.effective_at, self.level, self.originator_version]
            )

    class PlanRevised(Event):
        plan_version: int
        plan_type: str
        prompted_by: str
        goals: list[dict[str, Any]]
        agreement: str
        countersigned_by: str | None

        def apply(self, aggregate: Probationer) -> None:
            plan = {
                "plan_version": self.plan_version,
                "plan_type": self.plan_type,
                "prompted_by": self.prompted_by,
                "goals": {g["goal_id"]: dict(g) for g in self.goals},
                "agreement": self.agreement,
                "countersigned_by": self.countersigned_by,
                "effective_at": self.effective_at,
                "recorded_by": self.actor_id,
                "version": self.originator_version,
            }
            aggregate.plan = plan
            aggregate.plan_versions.append(self.originator_version)

    class PlanCountersigned(Event):
        """A second person's signature on a plan version: their own act, recorded by
        them (DOMAIN.md §3.5, sign COUNTERSIGN)."""

        plan_version: int

        def apply(self, aggregate: Probationer) -> None:
            assert aggregate.plan is not None
            aggregate.plan["countersigned_by"] = self.actor_id
            aggregate.plan["countersigned_at"] = self.effective_at

    class GoalProgressRecorded(Event):
        goal_id: str
        status: str
        note: str

        def apply(self, aggregate: Probationer) -> None:
            assert aggregate.plan is not None
            goal = aggregate.plan["goals"][self.goal_id]
            goal["status"] = self.status
            goal.setdefault("progress", []).append(
                {
                    "status": self.status,
                    "note": self.note,
                    "effective_at": self.effective_at,
                    "version": self.originator_version,
                }
            )

    class ReferralMade(Event):
        referral_id: str
        partner_id: str
        service_type: str
        need_addressed: str
        court_ordered: bool

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.REFERRAL,
                self.referral_id,
                partner_id=self.partner_id,
                service_type=self.service_type,
                need_addressed=self.need_addressed,
                court_ordered=self.court_ordered,
                status=ReferralStatus.MADE,
                status_since=self.effective_at,
            )

    class ReferralStatusChanged(Event):
        referral_id: str
        status: str

        def apply(self, aggregate: Probationer) -> None:
            referral = aggregate.entries[self.referral_id]
            referral["status"] = self.status
            referral["status_since"] = self.effective_at

    class ContactLogged(Event):
        """Version 2 records compliance apart from attendance (DESIGN.md §3: a person
        can attend and still not comply); version 1 contacts did not record it."""

        class_version = 2

        contact_id: str
        contact_type: str
        attendance: str
        location: str
        summary: str
        sensitive: bool
        complied: bool | None
        # Added later with a default: contacts recorded before it carried no label.
        victim_info: bool = False

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["complied"] = None  # not recorded then: unknown, not "no"

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.CONTACT,
                self.contact_id,
                contact_type=self.contact_type,
                attendance=self.attendance,
                location=self.location,
                summary=self.summary,
                sensitive=self.sensitive,
                complied=self.complied,
                victim_info=self.victim_info,
            )

    class DrugTestRecorded(Event):
        test_id: str
        method: str
        results: dict[str, str]

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.DRUG_TEST,
                self.test_id,
                method=self.method,
                results=dict(self.results),
                overall=overall_result(self.results),
            )

    class ViolationRecorded(Event):
        violation_id: str
        kind: str
        severity: str
        description: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.VIOLATION,
                self.violation_id,
                kind=self.kind,
                severity=self.severity,
                description=self.description,
                responses=[],
                court_actions=[],
            )

    class ViolationResponded(Event):
        violation_id: str
        response_id: str
        response: str
        authorised_by: str
        within_policy: bool
        # Added later (absent from older events): the response's level and who decided.
        level: str | None = None
        deciding_body: str | None = None

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.RESPONSE,
                self.response_id,
                violation_id=self.violation_id,
                response=self.response,
                authorised_by=self.authorised_by,
                within_policy=self.within_policy,
                level=self.level,
                deciding_body=self.deciding_body,
            )
            aggregate.entries[self.violation_id]["responses"].append(self.response_id)

    class CourtActionRecorded(Event):
        violation_id: str
        court_action_id: str
        hearing: str
        outcome: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.COURT_ACTION,
                self.court_action_id,
                violation_id=self.violation_id,
                hearing=self.hearing,
                outcome=self.outcome,
            )
            violation = aggregate.entries[self.violation_id]
            violation["court_actions"].append(self.court_action_id)

    class IncentiveGranted(Event):
        """A reward for compliance or progress (DOMAIN.md §4.3: pair sanctions with
        incentives, about four to one; §5.2 incentive.granted)."""

        incentive_id: str
        incentive_type: str
        level: str
        deciding_body: str
        goal_id: str | None

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.INCENTIVE,
                self.incentive_id,
                incentive_type=self.incentive_type,
                level=self.level,
                deciding_body=self.deciding_body,
                goal_id=self.goal_id,
            )

    class EntryCorrected(Event):
        entry_id: str
        target_version: int
        changes: dict[str, Any]
        previous: dict[str, Any]

        def apply(self, aggregate: Probationer) -> None:
            entry = aggregate.entries[self.entry_id]
            entry.update(self.changes)
            entry["last_version"] = self.originator_version
            entry["corrections"].append(self.originator_version)
            if entry["entry_kind"] == EntryKind.DRUG_TEST:
                entry["overall"] = overall_result(entry["results"])
            if entry["entry_kind"] == EntryKind.ASSESSMENT:
                aggregate.refresh_risk()

    class EntryVoided(Event):
        entry_id: str
        target_version: int

        def apply(self, aggregate: Probationer) -> None:
            entry = aggregate.entries[self.entry_id]
            entry["voided"] = True
            entry["last_version"] = self.originator_version
            entry["corrections"].append(self.originator_version)
            if entry["entry_kind"] == EntryKind.ASSESSMENT:
                aggregate.refresh_risk()

    class CaseNoteAdded(Event):
        note_id: str
        text: str
        category: str
        sensitive: bool
        # Added later with a default: notes recorded before it carried no label.
        victim_info: bool = False

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.NOTE,
                self.note_id,
                text=self.text,
                category=self.category,
                sensitive=self.sensitive,
                victim_info=self.victim_info,
            )

    class CaseClosed(Event):
        outcome: str
        disposition: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.status = CaseStatus.CLOSED
            aggregate.closure = {
                "outcome": self.outcome,
                "disposition": self.disposition,
                "effective_at": self.effective_at,
                "reason": self.reason,
            }

    class CaseReopened(Event):
        court_order_ref: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.status = CaseStatus.ACTIVE
            aggregate.closure = None

    class CaseSealed(Event):
        """A court ordered the case sealed: hidden from all but admin and court roles,
        its events and their chain kept intact."""

        court_order_ref: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.sealed = {
                "court_order_ref": self.court_order_ref,
                "effective_at": self.effective_at,
                "by": self.actor_id,
                "reason": self.reason,
            }

    class CaseRestricted(Event):
        """Only the named users (``only``), or everyone in scope but them
        (``exclude``), may see the case; admins always may. A new restriction
        replaces the one before."""

        mode: str
        users: list[str]

        def apply(self, aggregate: Probationer) -> None:
            aggregate.restriction = {
                "mode": self.mode,
                "users": list(self.users),
                "effective_at": self.effective_at,
                "by": self.actor_id,
                "reason": self.reason,
            }

    class RestrictionLifted(Event):
        def apply(self, aggregate: Probationer) -> None:
            aggregate.restriction = None

    class Erased(Event):
        """A court ordered the person's data erased: the case's data key is destroyed
        after this event is stored. Stored in clear (who, when, which order), so it
        reads the same before and after; its ``reason`` must not name the person.
        The state it leaves is the skeleton a replay of the shredded events gives."""

        personal_data = False
        court_order_ref: str

        def apply(self, aggregate: Probationer) -> None:
            opened_at = aggregate.opened_at
            aggregate.forget_person(opened_at)
            aggregate.status = CaseStatus.CLOSED
            aggregate.erased = {
                "court_order_ref": self.court_order_ref,
                "effective_at": self.effective_at,
                "by": self.actor_id,
                "reason": self.reason,
            }

    def __init__(self) -> None:
        """Empty shell: CaseOpened.apply sets the state (typed here for readers)."""
        self.person: dict[str, Any] = {}
        self.offences: list[dict[str, Any]] = []
        self.court_order: dict[str, Any] = {}
        self.supervision_type = ""
        self.term_start = date.min
        self.term_end: date | None = None
        self.conditions: dict[str, dict[str, Any]] = {}
        self.officer_id = ""
        self.unit_id = ""
        self.opened_at = datetime.min
        self.status = CaseStatus.ACTIVE
        self.closure: dict[str, Any] | None = None
        self.risk_level: RiskLevel | None = None
        self.supervision_level = SupervisionLevel.PENDING_ASSESSMENT
        self.supervision_basis = SupervisionLevelBasis.POLICY
        self.supervision_history: list[list[Any]] = []
        self.plan: dict[str, Any] | None = None
        self.plan_versions: list[int] = []
        self.entries: dict[str, Entry] = {}
        self.entry_kinds: dict[str, str] = {}
        self.sealed: dict[str, Any] | None = None
        self.restriction: dict[str, Any] | None = None
        self.erased: dict[str, Any] | None = None

    def forget_person(self, opened_at: datetime) -> None:
        """The state of a case whose events were shredded: every field at its empty
        value, the person's name ``[erased]``, the opening time (kept in clear)."""
        Probationer.__init__(self)  # state fields only: id and version stay
        erased = copy.deepcopy(Probationer.CaseOpened.erased_placeholders)
        self.person, self.court_order = erased["person"], erased["court_order"]
        self.supervision_type = ERASED
        self.officer_id = self.unit_id = ERASED
        self.opened_at = opened_at
        self.supervision_history = [[opened_at, SupervisionLevel.PENDING_ASSESSMENT, 1]]

    # Commands check the rules, then trigger an event; event apply methods only change
    # state, because they run again on every replay (a rule tightened later must not
    # make yesterday's valid history unreadable).

    @classmethod
    def open(
        cls, c: cmd.OpenCase, actor: Actor, probationer_id: UUID | None = None
    ) -> Probationer:
        now = cls.Event.create_timestamp()
        effective = _effective_time(c.effective_at, now, not_before=None)
        person = _plain(c.person)
        require_text(person.get("name"), "person.name", max_length=200)
        if c.confirm_duplicate:
            require_reason(c.reason, "opening a second case for the same person")
        _not_after(person.get("date_of_birth"), now, "person.date_of_birth")
        court_order = _plain(c.court_order)
        _not_after(court_order.get("order_date"), now, "court_order.order_date")
        if c.term_end is not None and c.term_end < c.term_start:
            raise InvalidInput("term_end", "must not be before term_start")
        return cls._create(
            cls.CaseOpened,
            id=probationer_id or uuid4(),
            timestamp=now,
            actor_id=actor.id,
            actor_role=actor.role,
            effective_at=effective,
            reason=c.reason,
            person=person,
            offences=[_plain(o) for o in c.offences],
            court_order=court_order,
            supervision_type=parse(
                SupervisionType, c.supervision_type, "supervision_type"
            ),
            term_start=c.term_start,
            term_end=c.term_end,
            conditions=_check_conditions(c.conditions, "conditions"),
            officer_id=require_text(c.officer_id, "officer_id", max_length=100),
            unit_id=require_text(c.unit_id, "unit_id", max_length=100),
        )

    @singledispatchmethod
    def execute(self, c: cmd.CaseCommand, actor: Actor) -> None:
        """Run one command on this case (each kind is registered below)."""
        raise TypeError(f"{type(c).__name__} is not a command on a case")

    @execute.register
    def modify_conditions(self, c: cmd.ModifyConditions, actor: Actor) -> None:
        for condition_id in c.removed:
            if condition_id not in self.conditions:
                raise UnknownEntry("condition", condition_id)
        checked = _check_conditions(c.added, "added")
        if not checked and not c.removed:
            raise InvalidInput("added", "nothing to add or remove")
        self._record(
            self.ConditionsModified,
            actor,
            c,
            added=checked,
            removed=list(c.removed),
            court_order_ref=require_text(c.court_order_ref, "court_order_ref"),
        )

    @execute.register
    def assign_officer(self, c: cmd.AssignOfficer, actor: Actor) -> None:
        require_reason(c.reason, "a transfer")
        if c.officer_id == self.officer_id and c.unit_id == self.unit_id:
            raise InvalidInput("officer_id", "the case is already assigned there")
        self._record(
            self.OfficerAssigned,
            actor,
            c,
            officer_id=require_text(c.officer_id, "officer_id", max_length=100),
            unit_id=require_text(c.unit_id, "unit_id", max_length=100),
        )

    @execute.register
    def complete_assessment(self, c: cmd.CompleteAssessment, actor: Actor) -> None:
        """Record an assessment; the supervision level then follows policy."""
        self._check_new_id(c.assessment_id)
        raw = parse(RiskLevel, c.risk_level, "risk_level")
        override = None
        if c.override_level is not None:
            override = parse(RiskLevel, c.override_level, "override_level")
            require_reason(c.reason, "a risk level override")
        checked_needs = [
            {
                "need_area": parse(NeedArea, n.get("need_area"), "needs.need_area"),
                "severity": parse(NeedSeverity, n.get("severity"), "needs.severity"),
            }
            for n in map(_plain, c.needs)
        ]
        before = derived.policy_level(self.entries)
        self._record(
            self.AssessmentCompleted,
            actor,
            c,
            assessment_id=c.assessment_id,
            instrument=parse(Instrument, c.instrument, "instrument"),
            instrument_version=require_text(c.instrument_version, "instrument_version"),
            purpose=parse(AssessmentPurpose, c.purpose, "purpose"),
            scores=check_scores(c.scores),
            total=_int("total")(c.total),
            risk_level=raw,
            needs=checked_needs,
            strengths=[require_text(s, "strengths") for s in c.strengths],
            override_level=override,
        )
        self._follow_policy(actor, c, before, c.effective_at)

    @execute.register
    def override_supervision_level(
        self, c: cmd.OverrideSupervisionLevel, actor: Actor
    ) -> None:
        """A human decision that departs from policy: always with a reason."""
        require_reason(c.reason, "a supervision level override")
        self._record(
            self.SupervisionLevelSet,
            actor,
            c,
            level=parse(SupervisionLevel, c.level, "level"),
            basis=SupervisionLevelBasis.OVERRIDE,
            inputs={"previous_level": self.supervision_level},
            policy=None,
        )

    @execute.register
    def revise_plan(self, c: cmd.RevisePlan, actor: Actor) -> None:
        """Publish a new plan version (goals → objectives → interventions)."""
        if not c.goals:
            raise InvalidInput("goals", "a plan needs at least one goal")
        checked_goals = [_check_goal(_plain(g)) for g in c.goals]
        goal_ids = [g["goal_id"] for g in checked_goals]
        if len(set(goal_ids)) != len(goal_ids):
            raise InvalidInput("goals", "goal ids must be unique within a plan")
        self._record(
            self.PlanRevised,
            actor,
            c,
            plan_version=len(self.plan_versions) + 1,
            plan_type=parse(PlanType, c.plan_type, "plan_type"),
            prompted_by=parse(PlanPrompt, c.prompted_by, "prompted_by"),
            goals=checked_goals,
            agreement=parse(Agreement, c.agreement, "agreement"),
            countersigned_by=self._countersigner(c.countersigned_by, actor),
        )

    @execute.register
    def countersign_plan(self, c: cmd.CountersignPlan, actor: Actor) -> None:
        """Countersign the current plan: a supervisor's own act, never the author's."""
        if self.plan is None or self.plan["plan_version"] != c.plan_version:
            raise UnknownEntry("plan", str(c.plan_version))
        if actor.role not in policies.COUNTERSIGNING_ROLES:
            raise NotEntitled(f"the {actor.role} role may not countersign a plan")
        if actor.id == self.plan["recorded_by"]:
            raise NotEntitled("the plan's author may not countersign it")
        if self.plan["countersigned_by"] is not None:
            raise InvalidTransition(f"plan {c.plan_version} is already countersigned")
        self._record(
            self.PlanCountersigned,
            actor,
            c,
            about={"entry_kind": "plan", "effective_at": self.plan["effective_at"]},
            plan_version=c.plan_version,
        )

    @execute.register
    def grant_incentive(self, c: cmd.GrantIncentive, actor: Actor) -> None:
        """Reward compliance; the actor's role must have the authority for its level."""
        self._check_new_id(c.incentive_id)
        require_reason(c.reason, "an incentive")
        chosen = parse(IncentiveType, c.incentive_type, "incentive_type")
        if not policies.may_grant_incentive(chosen, actor.role):
            level = policies.INCENTIVE_LEVEL[chosen]
            raise NotEntitled(
                f"the {actor.role} role may not grant a level {level} incentive"
            )
        if c.goal_id is not None and (
            self.plan is None or c.goal_id not in self.plan["goals"]
        ):
            raise UnknownEntry("goal", c.goal_id)
        body = policies.deciding_body(actor.role)
        assert body is not None  # may_grant_incentive checked it
        self._record(
            self.IncentiveGranted,
            actor,
            c,
            incentive_id=c.incentive_id,
            incentive_type=chosen,
            level=policies.INCENTIVE_LEVEL[chosen],
            deciding_body=body,
            goal_id=c.goal_id,
        )

    @execute.register
    def record_goal_progress(self, c: cmd.RecordGoalProgress, actor: Actor) -> None:
        if self.plan is None or c.goal_id not in self.plan["goals"]:
            raise UnknownEntry("goal", c.goal_id)
        new = parse(GoalStatus, c.status, "status")
        current = self.plan["goals"][c.goal_id]["status"]
        if current in (GoalStatus.ACHIEVED, GoalStatus.REMOVED):
            raise InvalidTransition(
                f"goal {c.goal_id} is {current}; re-add it in a plan revision"
            )
        self._record(
            self.GoalProgressRecorded,
            actor,
            c,
            about={"entry_kind": "plan", "effective_at": self.plan["effective_at"]},
            goal_id=c.goal_id,
            status=new,
            note=require_text(c.note, "note"),
        )

    @execute.register
    def make_referral(self, c: cmd.MakeReferral, actor: Actor) -> None:
        """Refer to a partner; the application checks the partner offers the service."""
        self._check_new_id(c.referral_id)
        self._record(
            self.ReferralMade,
            actor,
            c,
            referral_id=c.referral_id,
            partner_id=require_text(str(c.partner_id), "partner_id"),
            service_type=parse(ServiceType, c.service_type, "service_type"),
            need_addressed=parse(NeedArea, c.need_addressed, "need_addressed"),
            court_ordered=_bool("court_ordered")(c.court_ordered),
        )

    @execute.register
    def change_referral_status(self, c: cmd.ChangeReferralStatus, actor: Actor) -> None:
        referral = self._live_entry(EntryKind.REFERRAL, c.referral_id)
        new = parse(ReferralStatus, c.status, "status")
        current = ReferralStatus(referral["status"])
        if new not in policies.REFERRAL_TRANSITIONS[current]:
            raise InvalidTransition(
                f"referral {c.referral_id} cannot move from {current} to {new}"
            )
        if new in (ReferralStatus.WITHDRAWN, ReferralStatus.UNSUCCESSFUL):
            require_reason(c.reason, f"a referral ending {new}")
        self._record(
            self.ReferralStatusChanged,
            actor,
            c,
            about=referral,
            referral_id=c.referral_id,
            status=new,
        )

    @execute.register
    def log_contact(self, c: cmd.LogContact, actor: Actor) -> None:
        self._check_new_id(c.contact_id)
        chosen = parse(Attendance, c.attendance, "attendance")
        if c.complied is not None:
            _bool("complied")(c.complied)
            if c.complied and chosen != Attendance.ATTENDED:
                raise InvalidInput(
                    "complied", "only a contact attended can be complied with"
                )
        self._record(
            self.ContactLogged,
            actor,
            c,
            contact_id=c.contact_id,
            contact_type=parse(ContactType, c.contact_type, "contact_type"),
            attendance=chosen,
            location=require_text(c.location, "location", max_length=500),
            summary=require_text(c.summary, "summary"),
            sensitive=_bool("sensitive")(c.sensitive),
            complied=c.complied,
            victim_info=_bool("victim_info")(c.victim_info),
        )

    @execute.register
    def record_drug_test(self, c: cmd.RecordDrugTest, actor: Actor) -> None:
        self._check_new_id(c.test_id)
        self._record(
            self.DrugTestRecorded,
            actor,
            c,
            test_id=c.test_id,
            method=parse(DrugTestMethod, c.method, "method"),
            results=check_results(c.results),
        )

    @execute.register
    def record_violation(self, c: cmd.RecordViolation, actor: Actor) -> None:
        self._check_new_id(c.violation_id)
        self._record(
            self.ViolationRecorded,
            actor,
            c,
            violation_id=c.violation_id,
            kind=parse(ViolationKind, c.kind, "kind"),
            severity=parse(ViolationSeverity, c.severity, "severity"),
            description=require_text(c.description, "description"),
        )

    @execute.register
    def respond_to_violation(self, c: cmd.RespondToViolation, actor: Actor) -> None:
        """A graduated response; one outside the policy matrix needs a reason."""
        violation = self._live_entry(EntryKind.VIOLATION, c.violation_id)
        self._check_new_id(c.response_id)
        chosen = parse(Response, c.response, "response")
        severity = ViolationSeverity(violation["severity"])
        within = chosen in policies.allowed_responses(
            severity, self.risk_level
        ) and policies.may_decide_response(chosen, actor.role)
        if not within:
            require_reason(
                c.reason, "a response outside the graduated-response matrix or role"
            )
        body = policies.deciding_body(actor.role)
        self._record(
            self.ViolationResponded,
            actor,
            c,
            about=violation,
            violation_id=c.violation_id,
            response_id=c.response_id,
            response=chosen,
            authorised_by=require_text(c.authorised_by, "authorised_by"),
            within_policy=within,
            level=policies.RESPONSE_LEVEL[chosen],
            deciding_body=None if body is None else str(body),
        )

    @execute.register
    def record_court_action(self, c: cmd.RecordCourtAction, actor: Actor) -> None:
        violation = self._live_entry(EntryKind.VIOLATION, c.violation_id)
        self._check_new_id(c.court_action_id)
        outcome = parse(CourtOutcome, c.outcome, "outcome")
        self._record(
            self.CourtActionRecorded,
            actor,
            c,
            about=violation,
            violation_id=c.violation_id,
            court_action_id=c.court_action_id,
            hearing=require_text(c.hearing, "hearing"),
            outcome=outcome,
        )
        closure = policies.CLOSURE_FOR_COURT_OUTCOME.get(outcome)
        if closure is not None:  # e.g. revoked: supervision ends with the order
            self._record(
                self.CaseClosed,
                actor,
                c,
                reason=c.reason or f"Court outcome {outcome} ({c.court_action_id})",
                outcome=closure,
                disposition=policies.DISPOSITION_FOR_CLOSURE[closure],
            )

    @execute.register
    def correct_entry(self, c: cmd.CorrectEntry, actor: Actor) -> None:
        """Correct fields of an entry; the original event stays in the history."""
        require_reason(c.reason, "a correction")
        entry = self._targeted_entry(c.entry_id, c.target_version)
        allowed = CORRECTABLE.get(EntryKind(entry["entry_kind"]), {})
        if not c.changes:
            raise InvalidInput("changes", "nothing to correct")
        checked: dict[str, Any] = {}
        for name, value in c.changes.items():
            if name not in allowed:
                names = ", ".join(allowed) or "none"
                raise InvalidInput(
                    "changes",
                    f"{entry['entry_kind']} field {name!r} is not correctable "
                    f"(correctable: {names})",
                )
            checked[name] = allowed[name](value)
        before = derived.policy_level(self.entries)
        effective = c.effective_at or entry["effective_at"]
        self._record(
            self.EntryCorrected,
            actor,
            c,
            effective_at=effective,
            about=entry,
            entry_id=c.entry_id,
            target_version=c.target_version,
            changes=checked,
            previous={f: entry[f] for f in checked},
        )
        self._follow_policy(actor, c, before, effective)

    @execute.register
    def void_entry(self, c: cmd.VoidEntry, actor: Actor) -> None:
        """Mark an entry as entered in error; it stays in the history, marked void."""
        require_reason(c.reason, "voiding an entry")
        entry = self._targeted_entry(c.entry_id, c.target_version)
        before = derived.policy_level(self.entries)
        effective = c.effective_at or entry["effective_at"]
        self._record(
            self.EntryVoided,
            actor,
            c,
            effective_at=effective,
            about=entry,
            entry_id=c.entry_id,
            target_version=c.target_version,
        )
        self._follow_policy(actor, c, before, effective)

    @execute.register
    def add_note(self, c: cmd.AddNote, actor: Actor) -> None:
        self._check_new_id(c.note_id)
        self._record(
            self.CaseNoteAdded,
            actor,
            c,
            note_id=c.note_id,
            text=require_text(c.text, "text"),
            category=parse(NoteCategory, c.category, "category"),
            sensitive=_bool("sensitive")(c.sensitive),
            victim_info=_bool("victim_info")(c.victim_info),
        )

    @execute.register
    def close(self, c: cmd.CloseCase, actor: Actor) -> None:
        require_reason(c.reason, "closing a case")
        chosen = parse(ClosureOutcome, c.outcome, "outcome")
        self._record(
            self.CaseClosed,
            actor,
            c,
            outcome=chosen,
            disposition=policies.DISPOSITION_FOR_CLOSURE[chosen],
        )

    @execute.register
    def reopen(self, c: cmd.ReopenCase, actor: Actor) -> None:
        if self.status != CaseStatus.CLOSED:
            raise CaseAlreadyOpen(f"case {self.id} is not closed")
        require_reason(c.reason, "reopening a case")
        self._record(
            self.CaseReopened,
            actor,
            c,
            allow_closed=True,
            court_order_ref=require_text(c.court_order_ref, "court_order_ref"),
        )

    @execute.register
    def seal(self, c: cmd.SealCase, actor: Actor) -> None:
        """Seal by court order; a sealed case takes no further entries."""
        require_reason(c.reason, "sealing a case")
        self._record(
            self.CaseSealed,
            actor,
            c,
            allow_closed=True,
            court_order_ref=require_text(c.court_order_ref, "court_order_ref"),
        )

    @execute.register
    def erase(self, c: cmd.EraseCase, actor: Actor) -> None:
        """Record an erasure order; the application then destroys the case's key.
        Allowed on a closed or sealed case (expungement usually follows both)."""
        require_reason(c.reason, "erasing a case")
        if self.erased is not None:
            raise CaseErasedError(f"case {self.id} was already erased")
        now = self.Event.create_timestamp()
        self.trigger_event(
            self.Erased,
            timestamp=now,
            actor_id=actor.id,
            actor_role=actor.role,
            effective_at=_effective_time(c.effective_at, now, not_before=None),
            reason=require_text(c.reason, "reason"),
            court_order_ref=require_text(c.court_order_ref, "court_order_ref"),
        )

    @execute.register
    def restrict(self, c: cmd.RestrictCase, actor: Actor) -> None:
        """Restrict the case to, or exclude, named users; the reason is kept."""
        require_reason(c.reason, "restricting a case")
        users = [require_text(u, "users", max_length=100) for u in c.users]
        if not users:
            raise InvalidInput("users", "name at least one user")
        if len(set(users)) != len(users):
            raise InvalidInput("users", "names a user twice")
        self._record(
            self.CaseRestricted,
            actor,
            c,
            allow_closed=True,
            mode=parse(RestrictionMode, c.mode, "mode"),
            users=users,
        )

    @execute.register
    def lift_restriction(self, c: cmd.LiftRestriction, actor: Actor) -> None:
        require_reason(c.reason, "lifting a restriction")
        if self.restriction is None:
            raise InvalidInput("restriction", f"case {self.id} is not restricted")
        self._record(self.RestrictionLifted, actor, c, allow_closed=True)

    # Queries on current state.

    # Queries ask ``derived``, the one derivation the caseload read model uses too.

    def live_entries(self, kind: EntryKind) -> list[Entry]:
        """Entries of one kind that have not been voided, in recording order."""
        return derived.live_entries(self.entries, kind)

    def open_violations(self) -> list[Entry]:
        """Violations still waiting for a response that stands (not voided)."""
        return derived.open_violations(self.entries)

    def caseload_row(self, now: datetime) -> dict[str, Any]:
        """The case as its caseload row shows it at ``now``."""
        return derived.caseload_row(self, now)

    # Helpers used by the event apply methods (they must not check rules).

    def add_entry(
        self,
        event: Probationer.Event,
        entry_kind: EntryKind,
        entry_id: str,
        **data: Any,
    ) -> None:
        self.entries[entry_id] = {
            "id": entry_id,
            "entry_kind": entry_kind,
            **data,
            "effective_at": event.effective_at,
            "recorded_by": event.actor_id,
            "version": event.originator_version,
            "last_version": event.originator_version,
            "voided": False,
            "corrections": [],
        }
        self.entry_kinds[entry_id] = entry_kind

    def refresh_risk(self) -> None:
        """Current risk is the (overridden) level of the latest live assessment."""
        self.risk_level = derived.assessed_risk(self.entries)

    # Rule helpers used by the commands.

    def _record(
        self,
        event_class: type[Probationer.Event],
        actor: Actor,
        command: cmd.CaseCommand,
        *,
        allow_closed: bool = False,
        about: Entry | None = None,
        effective_at: datetime | Unset | None = UNSET,
        reason: str | Unset | None = UNSET,
        **fields: Any,
    ) -> None:
        """Trigger an event after the rules every entry shares, with the command's
        effective time and reason unless given.

        ``about`` is the entry the event concerns: it cannot take effect before it.
        """
        if self.erased is not None:
            raise CaseErasedError(f"case {self.id} was erased by court order")
        if self.sealed is not None:
            raise CaseSealedError(f"case {self.id} is sealed by court order")
        if self.status == CaseStatus.CLOSED and not allow_closed:
            raise CaseClosed(f"case {self.id} is closed; reopen it first")
        when = command.effective_at if isinstance(effective_at, Unset) else effective_at
        why = command.reason if isinstance(reason, Unset) else reason
        now = self.Event.create_timestamp()
        effective = _effective_time(when, now, not_before=self.opened_at)
        if about is not None and effective < about["effective_at"]:
            raise InvalidEffectiveTime(
                f"must not be before the {about['entry_kind']} it concerns took effect"
            )
        self.trigger_event(
            event_class,
            timestamp=now,
            actor_id=actor.id,
            actor_role=actor.role,
            effective_at=effective,
            reason=why if why is None else require_text(why, "reason"),
            **fields,
        )

    def _follow_policy(
        self,
        actor: Actor,
        c: cmd.CaseCommand,
        before: tuple[SupervisionLevel, Entry],
        effective_at: datetime | None,
    ) -> None:
        """Set the supervision level policy now derives, if what it derives from
        changed (a new, corrected or voided assessment): a new event with the inputs
        and the policy's id, never an edit of the one before. A human override stands
        until the assessment it departed from changes."""
        level, inputs = derived.policy_level(self.entries)
        if (level, inputs) == before:
            return
        if (
            level == self.supervision_level
            and self.supervision_basis == SupervisionLevelBasis.POLICY
        ):
            return
        self._record(
            self.SupervisionLevelSet,
            actor,
            c,
            effective_at=effective_at,
            reason=None,
            level=level,
            basis=SupervisionLevelBasis.POLICY,
            inputs={**inputs, "previous_level": str(self.supervision_level)},
            policy=policies.POLICY_ID,
        )

    def _countersigner(self, countersigned_by: str | None, actor: Actor) -> str | None:
        """A countersignature named on a revision is another person's, never the
        author's own (the countersignature proper is ``CountersignPlan``)."""
        if countersigned_by is None:
            return None
        signer = require_text(countersigned_by, "countersigned_by", max_length=100)
        if signer == actor.id:
            raise NotEntitled("the plan's author may not countersign it")
        return signer

    def _check_new_id(self, entry_id: str) -> None:
        require_text(entry_id, "id", max_length=100)
        if entry_id in self.entries:
            raise InvalidInput("id", f"an entry with id {entry_id!r} already exists")

    def _live_entry(self, kind: EntryKind, entry_id: str) -> Entry:
        entry = self.entries.get(entry_id)
        if entry is None or entry["entry_kind"] != kind:
            raise UnknownEntry(kind, entry_id)
        if entry["voided"]:
            raise EntryAlreadyVoided(f"{kind} {entry_id} was voided")
        return entry

    def _targeted_entry(self, entry_id: str, target_version: int) -> Entry:
        entry = self.entries.get(entry_id)
        if entry is None:
            raise UnknownEntry("entry", entry_id)
        if entry["voided"]:
            raise EntryAlreadyVoided(f"entry {entry_id} was voided")
        if target_version != entry["last_version"]:
            raise StaleEntryVersion(
                f"entry {entry_id} was last written at version {entry['last_version']},"
                f" not {target_version}"
            )
        return entry


def _effective_time(
    effective_at: datetime | None, now: datetime, *, not_before: datetime | None
) -> datetime:
    if effective_at is None:
        return now
    if effective_at.tzinfo is None:
        raise InvalidEffectiveTime("must include a timezone")
    try:
        effective_at = effective_at.astimezone(UTC)
    except OverflowError:
        raise InvalidEffectiveTime("is out of range") from None
    if effective_at > now:
        raise InvalidEffectiveTime("must not be in the future")
    if not_before is not None and effective_at < not_before:
        raise InvalidEffectiveTime("must not be before the case was opened")
    return effective_at


def _plain(value: Any) -> dict[str, Any]:
    """A nested command value (a dataclass, or a mapping from older callers) as the
    plain dict an event stores."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise InvalidInput("value", "must be an object")


def _not_after(value: object, now: datetime, field: str) -> None:
    if isinstance(value, date) and value > now.date():
        raise InvalidInput(field, "must not be in the future")


def _check_conditions(conditions: Sequence[Any], field: str) -> list[dict[str, Any]]:
    checked = []
    for c in map(_plain, conditions):
        checked.append(
            {
                "condition_id": require_text(c.get("condition_id"), f"{field}.id"),
                "category": require_text(c.get("category", "standard"), field),
                "text": require_text(c.get("text"), f"{field}.text"),
            }
        )
    return checked


def _check_goal(goal: Mapping[str, Any]) -> dict[str, Any]:
    objectives = []
    for o in goal.get("objectives", []):
        objectives.append(
            {
                "objective_id": require_text(o.get("objective_id"), "objective_id"),
                "description": require_text(o.get("description"), "description"),
                "measure": require_text(o.get("measure"), "measure"),
                "target_date": _optional_date(o.get("target_date"), "target_date"),
                "interventions": [
                    require_text(i, "interventions") for i in o.get("interventions", [])
                ],
            }
        )
    return {
        "goal_id": require_text(goal.get("goal_id"), "goal_id", max_length=100),
        "need_area": parse(NeedArea, goal.get("need_area"), "need_area"),
        "statement": require_text(goal.get("statement"), "statement"),
        "status": parse(GoalStatus, goal.get("status", GoalStatus.ACTIVE), "status"),
        "objectives": objectives,
    }


def _optional_date(value: object, field: str) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    raise InvalidInput(field, "must be a date")
