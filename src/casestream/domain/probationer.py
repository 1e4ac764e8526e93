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
from datetime import UTC, date, datetime, timedelta
from functools import singledispatchmethod
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from casestream.domain import alerts as due_rules, commands as cmd, derived, policies
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
    AbsenceReason,
    Achievement,
    Actor,
    Agreement,
    AlertResolution,
    AssessmentPurpose,
    Attendance,
    CaseStatus,
    ClosureOutcome,
    ConsentCategory,
    ContactMethod,
    ContactOutcome,
    ContactPlace,
    ContactType,
    CourtFinding,
    CourtOutcome,
    DrugTestMethod,
    DrugTestResult,
    EntryKind,
    GoalStatus,
    HearingType,
    IncentiveType,
    Instrument,
    Label,
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
    SessionAttendance,
    SupervisionLevel,
    SupervisionLevelBasis,
    SupervisionType,
    ViolationKind,
    ViolationSeverity,
    ViolationSource,
    WithdrawalReason,
)

E = TypeVar("E", bound=str)

# The role the system acts in when it records what a rule decided (alerts raised and
# resolved): no person's act, and no person may act in it.
SYSTEM_ROLE = "system"
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
        "method": _enum(ContactMethod, "method"),
        "place": _enum(ContactPlace, "place"),
        "enforceable": _bool("enforceable"),
        "collateral_party": _text("collateral_party"),
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
        "finding": _enum(CourtFinding, "finding"),
    },
    EntryKind.WARRANT: {"issuing_authority": _text("issuing_authority")},
    EntryKind.HEARING: {
        "hearing_type": _enum(HearingType, "hearing_type"),
        "body": _text("body"),
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


def logged_contact_fields(contact: Mapping[str, Any]) -> dict[str, Any]:
    """What a contact logged after the fact says beyond its type and attendance: its
    outcome (attended without complying is a failure to comply), its type's usual
    method and place, and whether it was enforceable. The one mapping the event
    upcast, the snapshot upcast, new logs and corrections use."""
    contact_type = ContactType(contact["contact_type"])
    outcome = policies.OUTCOME_FOR_ATTENDANCE[Attendance(contact["attendance"])]
    if outcome == ContactOutcome.ATTENDED and contact.get("complied") is False:
        outcome = ContactOutcome.ATTENDED_FAILED_TO_COMPLY
    method, place = policies.METHOD_AND_PLACE[contact_type]
    return {
        "outcome": outcome,
        "method": method,
        "place": place,
        "enforceable": contact_type in policies.ENFORCEABLE_BY_DEFAULT,
        "collateral_party": None,
    }


def violation_defaults(violation: Mapping[str, Any]) -> dict[str, Any]:
    """What a violation recorded before version 2 says by default: no conditions or
    source named, discovered when recorded, technical unless a new offence."""
    return {
        "category": policies.violation_category(ViolationKind(violation["kind"])),
        "condition_ids": [],
        "source": None,
        "source_ref": None,
        "discovered_at": None,
        "warrants": [],
        "hearings": [],
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
    # 3 added ``sealed``, 4 ``restriction``, 5 ``supervision_history``, 6 ``consents``
    # and the referral lifecycle's fields (links, sessions, outcomes), 7 contact
    # outcomes, method and place, violations' conditions, source and warrants, and
    # ``assignments`` (who was in charge when), 8 alerts, 9 ``erased``.
    class_version = 9
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
        state.setdefault("consents", {})
        for entry in state.get("entries", {}).values():
            if entry.get("entry_kind") == EntryKind.REFERRAL:
                for name, value in REFERRAL_DEFAULTS.items():
                    entry.setdefault(name, value() if callable(value) else value)

    @staticmethod
    def upcast_v6_v7(state: dict[str, Any]) -> None:
        # Older snapshots kept only the current officer: in charge from the opening.
        state.setdefault(
            "assignments",
            [[state["opened_at"], state["officer_id"], state["unit_id"]]],
        )
        for entry in state.get("entries", {}).values():
            if entry.get("entry_kind") == EntryKind.CONTACT and "outcome" not in entry:
                entry.update(logged_contact_fields(entry))
                entry.setdefault("held_at", entry["effective_at"])
            if entry.get("entry_kind") == EntryKind.VIOLATION:
                entry.update(
                    {
                        k: v
                        for k, v in violation_defaults(entry).items()
                        if k not in entry
                    }
                )

    @staticmethod
    def upcast_v7_v8(state: dict[str, Any]) -> None:
        state.setdefault("alerts", {})
        state.setdefault("alert_versions", [])
        state.setdefault("conditions_changed", None)

    @staticmethod
    def upcast_v8_v9(state: dict[str, Any]) -> None:
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
            a.assignments = [[self.effective_at, self.officer_id, self.unit_id]]
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
            a.consents = {}
            a.alerts = {}
            a.alert_versions = []
            a.conditions_changed = None
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
            aggregate.conditions_changed = self.originator_version

    class OfficerAssigned(Event):
        officer_id: str
        unit_id: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.officer_id = self.officer_id
            aggregate.unit_id = self.unit_id
            aggregate.assignments.append(
                [self.effective_at, self.officer_id, self.unit_id]
            )

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
        """Version 2 links the goal, condition and consent, names the desired
        outcomes (DOMAIN.md §5.2 referral.sent) and carries labels."""

        class_version = 2

        referral_id: str
        partner_id: str
        service_type: str
        need_addressed: str
        court_ordered: bool
        goal_id: str | None
        condition_id: str | None
        consent_id: str | None
        desired_outcomes: list[str]
        labels: list[str]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            for name in ("goal_id", "condition_id", "consent_id"):
                state[name] = None
            state["desired_outcomes"] = []
            state["labels"] = []

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
                goal_id=self.goal_id,
                condition_id=self.condition_id,
                consent_id=self.consent_id,
                desired_outcomes=list(self.desired_outcomes),
                labels=list(self.labels),
                sessions={},
                last_session_on=None,
                withdrawal=None,
                outcomes={},
            )

    class ReferralStatusChanged(Event):
        """Version 2 carries a withdrawal's coded reason and stage, and a concluding
        end's achievement per desired outcome (DOMAIN.md §3.6)."""

        class_version = 2

        referral_id: str
        status: str
        withdrawal_reason: str | None
        withdrawn_at_stage: str | None
        outcomes: dict[str, str]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["withdrawal_reason"] = None
            state["withdrawn_at_stage"] = None
            state["outcomes"] = {}

        def apply(self, aggregate: Probationer) -> None:
            referral = aggregate.entries[self.referral_id]
            referral["status"] = self.status
            referral["status_since"] = self.effective_at
            if self.withdrawal_reason is not None:
                referral["withdrawal"] = {
                    "reason": self.withdrawal_reason,
                    "stage": self.withdrawn_at_stage,
                }
            if self.outcomes:
                referral["outcomes"] = dict(self.outcomes)

    class ReferralSessionRecorded(Event):
        """A provider's session and the person's attendance (DOMAIN.md §5.2
        referral.session_recorded), recorded by the partner or on its behalf."""

        referral_id: str
        session_id: str
        on: date
        attendance: str
        note: str | None

        def apply(self, aggregate: Probationer) -> None:
            referral = aggregate.entries[self.referral_id]
            referral.setdefault("sessions", {})[self.session_id] = {
                "on": self.on,
                "attendance": self.attendance,
                "note": self.note,
                "recorded_by": self.actor_id,
                "version": self.originator_version,
            }
            last = referral.get("last_session_on")
            referral["last_session_on"] = (
                self.on if last is None else max(last, self.on)
            )

    class ConsentRecorded(Event):
        """Consent to disclose health information to one partner (42 CFR Part 2
        §2.31, §2.35; DOMAIN.md §5.2 consent.recorded)."""

        consent_id: str
        recipient_partner_id: str
        categories: list[str]
        purpose: str
        expires_on: date

        def apply(self, aggregate: Probationer) -> None:
            aggregate.consents[self.consent_id] = {
                "consent_id": self.consent_id,
                "recipient_partner_id": self.recipient_partner_id,
                "categories": list(self.categories),
                "purpose": self.purpose,
                "expires_on": self.expires_on,
                "recorded_at": self.effective_at,
                "revoked_at": None,
            }

    class ConsentRevoked(Event):
        """The person withdrew a consent (DOMAIN.md §5.2 consent.revoked)."""

        consent_id: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.consents[self.consent_id]["revoked_at"] = self.effective_at

    class ContactLogged(Event):
        """A contact recorded after the fact. Version 2 records compliance apart from
        attendance (DESIGN.md §3: a person can attend and still not comply); version 3
        its method, place, outcome, whether it was enforceable and with whom a
        collateral contact was (older contacts: by their type and attendance)."""

        class_version = 3

        contact_id: str
        contact_type: str
        attendance: str
        location: str
        summary: str
        sensitive: bool
        complied: bool | None
        method: str
        place: str
        outcome: str
        enforceable: bool
        collateral_party: str | None
        # Added later with a default: contacts recorded before it carried no label.
        victim_info: bool = False
        # Added later with a default (a tuple: the value is shared): no labels.
        labels: tuple[str, ...] = ()

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["complied"] = None  # not recorded then: unknown, not "no"

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state.update(logged_contact_fields(state))

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_contact(
                self,
                attendance=self.attendance,
                complied=self.complied,
                outcome=self.outcome,
                scheduled_for=None,
                held_at=self.effective_at,
            )

    class ContactScheduled(Event):
        """An appointment (DOMAIN.md §5.2 contact.scheduled): no outcome yet."""

        contact_id: str
        contact_type: str
        method: str
        place: str
        scheduled_for: datetime
        enforceable: bool
        collateral_party: str | None
        location: str | None
        summary: str | None
        sensitive: bool
        victim_info: bool
        labels: tuple[str, ...] = ()

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_contact(
                self,
                attendance=None,
                complied=None,
                outcome=None,
                scheduled_for=self.scheduled_for,
                held_at=self.scheduled_for,
            )

    class ContactOutcomeRecorded(Event):
        """What became of an appointment (DOMAIN.md §5.2 contact.outcome_recorded)."""

        contact_id: str
        outcome: str
        absence_reason: str | None
        evidence_due: date | None

        def apply(self, aggregate: Probationer) -> None:
            aggregate.set_outcome(self)

    class ContactOutcomeChanged(Event):
        """An outcome changed (DOMAIN.md §3.1: failed to attend becomes acceptable or
        unacceptable once the evidence is in): old and new value, and the reason."""

        contact_id: str
        previous_outcome: str
        outcome: str
        absence_reason: str | None
        evidence_due: date | None

        def apply(self, aggregate: Probationer) -> None:
            aggregate.set_outcome(self)

    class DrugTestRecorded(Event):
        test_id: str
        method: str
        results: dict[str, str]
        # Added later with a default (a tuple: the value is shared): no labels.
        labels: tuple[str, ...] = ()

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.DRUG_TEST,
                self.test_id,
                method=self.method,
                results=dict(self.results),
                overall=overall_result(self.results),
                labels=list(self.labels),
            )

    class ViolationRecorded(Event):
        """Version 2 names the conditions breached, the source, when it was discovered
        and whether it is technical or new law (DOMAIN.md §5.2 violation.recorded)."""

        class_version = 2

        violation_id: str
        kind: str
        severity: str
        description: str
        category: str
        condition_ids: list[str]
        source: str | None
        source_ref: str | None
        discovered_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(violation_defaults(state))

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.VIOLATION,
                self.violation_id,
                kind=self.kind,
                severity=self.severity,
                description=self.description,
                category=self.category,
                condition_ids=list(self.condition_ids),
                source=self.source,
                source_ref=self.source_ref,
                discovered_at=self.discovered_at or self.timestamp,
                responses=[],
                court_actions=[],
                warrants=[],
                hearings=[],
            )
            aggregate.refresh_status()

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
            aggregate.refresh_status()

    class CourtActionRecorded(Event):
        violation_id: str
        court_action_id: str
        hearing: str
        outcome: str
        # Added later (absent from older events): findings, custody, term extension.
        hearing_id: str | None = None
        finding: str | None = None
        custody_days: int = 0
        term_extension_days: int = 0

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.COURT_ACTION,
                self.court_action_id,
                violation_id=self.violation_id,
                hearing=self.hearing,
                outcome=self.outcome,
                hearing_id=self.hearing_id,
                finding=self.finding,
                custody_days=self.custody_days,
                term_extension_days=self.term_extension_days,
            )
            violation = aggregate.entries[self.violation_id]
            violation["court_actions"].append(self.court_action_id)
            if self.term_extension_days and aggregate.term_end is not None:
                aggregate.term_end += timedelta(days=self.term_extension_days)
            aggregate.refresh_status()

    class WarrantIssued(Event):
        """A warrant for the person's arrest on a violation (DOMAIN.md §5.2)."""

        warrant_id: str
        violation_id: str
        issuing_authority: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.WARRANT,
                self.warrant_id,
                violation_id=self.violation_id,
                issuing_authority=self.issuing_authority,
                executed_at=None,
            )
            aggregate.entries[self.violation_id]["warrants"].append(self.warrant_id)
            aggregate.refresh_status()

    class WarrantExecuted(Event):
        """The person was arrested on the warrant."""

        warrant_id: str

        def apply(self, aggregate: Probationer) -> None:
            warrant = aggregate.entries[self.warrant_id]
            warrant["executed_at"] = self.effective_at
            warrant["last_version"] = self.originator_version
            aggregate.refresh_status()

    class HearingScheduled(Event):
        """A hearing on a violation (DOMAIN.md §5.2 hearing.scheduled)."""

        violation_id: str
        hearing_id: str
        hearing_type: str
        scheduled_for: datetime
        body: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.HEARING,
                self.hearing_id,
                violation_id=self.violation_id,
                hearing_type=self.hearing_type,
                scheduled_for=self.scheduled_for,
                body=self.body,
            )
            aggregate.entries[self.violation_id]["hearings"].append(self.hearing_id)

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
            logged = entry.get("scheduled_for") is None
            if entry["entry_kind"] == EntryKind.CONTACT and logged:
                usual = logged_contact_fields(entry)
                entry["outcome"] = usual["outcome"]
                if "contact_type" in self.changes:  # the type's usual method and place
                    for name in ("method", "place"):
                        entry[name] = self.changes.get(name, usual[name])

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
            aggregate.refresh_status()

    class CaseNoteAdded(Event):
        note_id: str
        text: str
        category: str
        sensitive: bool
        # Added later with a default: notes recorded before it carried no label.
        victim_info: bool = False
        # Added later with a default (a tuple: the value is shared): no labels.
        labels: tuple[str, ...] = ()

        def apply(self, aggregate: Probationer) -> None:
            aggregate.add_entry(
                self,
                EntryKind.NOTE,
                self.note_id,
                text=self.text,
                category=self.category,
                sensitive=self.sensitive,
                victim_info=self.victim_info,
                labels=list(self.labels),
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
            aggregate.refresh_status()

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

    # Alerts (issue 13): part of the record, so "which alerts were open on 3 March,
    # and when were they acknowledged" is answered as recorded at any time.

    class AlertRaised(Event):
        """The system found an alert due (by ``rule_version``, as of ``as_of`` in
        the agency's ``zone``); ``detail`` holds codes and ids, never free text."""

        alert_id: str
        kind: str
        key: str
        severity: str
        due_at: date | None
        detail: dict[str, Any]
        rule_version: str
        as_of: datetime
        zone: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.alerts[self.alert_id] = {
                "id": self.alert_id,
                "kind": self.kind,
                "key": self.key,
                "severity": self.severity,
                "due_at": self.due_at,
                "detail": dict(self.detail),
                "rule_version": self.rule_version,
                "raised_at": self.effective_at,
                "raised_version": self.originator_version,
                "acknowledged": None,
                "snoozed_until": None,
                "resolved": None,
            }
            aggregate.alert_versions.append(self.originator_version)

    class AlertAcknowledged(Event):
        """The officer saw the alert; the note says what they will do."""

        alert_id: str
        kind: str
        note: str

        def apply(self, aggregate: Probationer) -> None:
            aggregate.alerts[self.alert_id]["acknowledged"] = {
                "by": self.actor_id,
                "at": self.effective_at,
                "version": self.originator_version,
            }
            aggregate.alert_versions.append(self.originator_version)

    class AlertSnoozed(Event):
        """Put aside until ``until`` (the reason is the event's reason)."""

        alert_id: str
        kind: str
        until: datetime

        def apply(self, aggregate: Probationer) -> None:
            aggregate.alerts[self.alert_id]["snoozed_until"] = self.until
            aggregate.alert_versions.append(self.originator_version)

    class AlertResolved(Event):
        """No longer due: by an event (``by_version``), by time, or acknowledged."""

        alert_id: str
        kind: str
        resolution: str
        by_version: int | None
        rule_version: str
        as_of: datetime

        def apply(self, aggregate: Probationer) -> None:
            aggregate.alerts[self.alert_id]["resolved"] = {
                "resolution": self.resolution,
                "by_version": self.by_version,
                "at": self.effective_at,
            }
            aggregate.alert_versions.append(self.originator_version)

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
        self.assignments: list[list[Any]] = []
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
        self.consents: dict[str, dict[str, Any]] = {}
        self.alerts: dict[str, dict[str, Any]] = {}
        self.alert_versions: list[int] = []
        self.conditions_changed: int | None = None
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
        """Refer to a partner; the application checks the partner offers the service.
        The goal, condition and consent it names must be on the case."""
        self._check_new_id(c.referral_id)
        service = parse(ServiceType, c.service_type, "service_type")
        partner_id = require_text(str(c.partner_id), "partner_id")
        if c.goal_id is not None and (
            self.plan is None or c.goal_id not in self.plan["goals"]
        ):
            raise UnknownEntry("goal", c.goal_id)
        if c.condition_id is not None and c.condition_id not in self.conditions:
            raise UnknownEntry("condition", c.condition_id)
        if c.consent_id is not None:
            consent = self.consents.get(c.consent_id)
            if consent is None:
                raise UnknownEntry("consent", c.consent_id)
            if consent["recipient_partner_id"] != partner_id:
                raise InvalidInput("consent_id", "the consent is for another partner")
        outcomes = [
            require_text(o, "desired_outcomes", max_length=500)
            for o in c.desired_outcomes
        ]
        if len(set(outcomes)) != len(outcomes):
            raise InvalidInput("desired_outcomes", "names an outcome twice")
        self._record(
            self.ReferralMade,
            actor,
            c,
            referral_id=c.referral_id,
            partner_id=partner_id,
            service_type=service,
            need_addressed=parse(NeedArea, c.need_addressed, "need_addressed"),
            court_ordered=_bool("court_ordered")(c.court_ordered),
            goal_id=c.goal_id,
            condition_id=c.condition_id,
            consent_id=c.consent_id,
            desired_outcomes=outcomes,
            labels=_labels(c.labels, policies.IMPLIED_LABELS.get(service, ())),
        )

    @execute.register
    def change_referral_status(self, c: cmd.ChangeReferralStatus, actor: Actor) -> None:
        """Move a referral along its lifecycle; a partner moves only its own steps."""
        referral = self._live_entry(EntryKind.REFERRAL, c.referral_id)
        new = parse(ReferralStatus, c.status, "status")
        current = ReferralStatus(referral["status"])
        if new not in policies.REFERRAL_TRANSITIONS[current]:
            raise InvalidTransition(
                f"referral {c.referral_id} cannot move from {current} to {new}"
            )
        if actor.role == policies.PARTNER_ROLE and new not in policies.PARTNER_STATUSES:
            raise NotEntitled(f"a partner may not set a referral {new}")
        if new in policies.ENDS_WITH_REASON:
            require_reason(c.reason, f"a referral ending {new}")
        reason_code, stage = None, None
        if new == ReferralStatus.WITHDRAWN:
            if c.withdrawal_reason is None:
                raise InvalidInput(
                    "withdrawal_reason", "a withdrawal needs a coded reason"
                )
            reason_code = parse(
                WithdrawalReason, c.withdrawal_reason, "withdrawal_reason"
            )
            stage = policies.WITHDRAWAL_STAGE[current]
        elif c.withdrawal_reason is not None:
            raise InvalidInput("withdrawal_reason", "only a withdrawal has one")
        outcomes = self._achievements(referral, new, c.outcomes)
        self._record(
            self.ReferralStatusChanged,
            actor,
            c,
            about=referral,
            referral_id=c.referral_id,
            status=new,
            withdrawal_reason=reason_code,
            withdrawn_at_stage=stage,
            outcomes=outcomes,
        )

    def _achievements(
        self, referral: Entry, new: ReferralStatus, given: Mapping[str, Any]
    ) -> dict[str, str]:
        """A concluding end says how far each desired outcome was met, and only those."""
        if new not in policies.CONCLUDING:
            if given:
                raise InvalidInput("outcomes", f"a referral moving to {new} has none")
            return {}
        desired = set(referral.get("desired_outcomes") or ())
        unknown = set(given) - desired
        if unknown:
            raise InvalidInput(
                "outcomes", f"not a desired outcome: {sorted(unknown)[0]!r}"
            )
        missing = desired - set(given)
        if missing:
            raise InvalidInput(
                "outcomes", f"say how far {sorted(missing)[0]!r} was met"
            )
        return {k: parse(Achievement, v, f"outcomes.{k}") for k, v in given.items()}

    @execute.register
    def record_referral_session(
        self, c: cmd.RecordReferralSession, actor: Actor
    ) -> None:
        """A session the provider held (or the person missed) on a referral in service."""
        referral = self._live_entry(EntryKind.REFERRAL, c.referral_id)
        status = ReferralStatus(referral["status"])
        if status not in policies.SESSION_STATES:
            raise InvalidTransition(
                f"referral {c.referral_id} is {status}: no sessions are held"
            )
        session_id = require_text(c.session_id, "session_id", max_length=100)
        if session_id in (referral.get("sessions") or {}):
            raise InvalidInput("session_id", f"session {session_id!r} is recorded")
        now = self.Event.create_timestamp()
        if c.on > now.date():
            raise InvalidInput("on", "must not be in the future")
        if c.on < derived.day(referral["effective_at"]):
            raise InvalidInput("on", "must not be before the referral was made")
        self._record(
            self.ReferralSessionRecorded,
            actor,
            c,
            about=referral,
            referral_id=c.referral_id,
            session_id=session_id,
            on=c.on,
            attendance=parse(SessionAttendance, c.attendance, "attendance"),
            note=None if c.note is None else require_text(c.note, "note"),
        )

    @execute.register
    def record_consent(self, c: cmd.RecordConsent, actor: Actor) -> None:
        """Record the person's consent to disclose to one partner until a date."""
        consent_id = require_text(c.consent_id, "consent_id", max_length=100)
        if consent_id in self.consents:
            raise InvalidInput("consent_id", f"consent {consent_id!r} is recorded")
        categories = sorted(
            {parse(ConsentCategory, v, "categories") for v in c.categories}
        )
        if not categories:
            raise InvalidInput("categories", "name at least one category")
        if c.expires_on < self.Event.create_timestamp().date():
            raise InvalidInput("expires_on", "must not be in the past")
        self._record(
            self.ConsentRecorded,
            actor,
            c,
            consent_id=consent_id,
            recipient_partner_id=require_text(
                str(c.recipient_partner_id), "recipient_partner_id"
            ),
            categories=categories,
            purpose=require_text(c.purpose, "purpose", max_length=500),
            expires_on=c.expires_on,
        )

    @execute.register
    def revoke_consent(self, c: cmd.RevokeConsent, actor: Actor) -> None:
        consent = self.consents.get(c.consent_id)
        if consent is None:
            raise UnknownEntry("consent", c.consent_id)
        if consent["revoked_at"] is not None:
            raise InvalidTransition(f"consent {c.consent_id} is already revoked")
        self._record(
            self.ConsentRevoked,
            actor,
            c,
            allow_closed=True,
            about={"entry_kind": "consent", "effective_at": consent["recorded_at"]},
            consent_id=c.consent_id,
        )

    @execute.register
    def log_contact(self, c: cmd.LogContact, actor: Actor) -> None:
        """A contact recorded after it happened (an appointment is ``ScheduleContact``
        with its outcome)."""
        self._check_new_id(c.contact_id)
        chosen = parse(Attendance, c.attendance, "attendance")
        if c.complied is not None:
            _bool("complied")(c.complied)
            if c.complied and chosen != Attendance.ATTENDED:
                raise InvalidInput(
                    "complied", "only a contact attended can be complied with"
                )
        contact_type = parse(ContactType, c.contact_type, "contact_type")
        usual = logged_contact_fields(
            {"contact_type": contact_type, "attendance": chosen, "complied": c.complied}
        )
        self._record(
            self.ContactLogged,
            actor,
            c,
            contact_id=c.contact_id,
            contact_type=contact_type,
            attendance=chosen,
            location=require_text(c.location, "location", max_length=500),
            summary=require_text(c.summary, "summary"),
            sensitive=_bool("sensitive")(c.sensitive),
            complied=c.complied,
            victim_info=_bool("victim_info")(c.victim_info),
            labels=_labels(c.labels),
            method=usual["method"]
            if c.method is None
            else parse(ContactMethod, c.method, "method"),
            place=usual["place"]
            if c.place is None
            else parse(ContactPlace, c.place, "place"),
            outcome=usual["outcome"],
            enforceable=usual["enforceable"],
            collateral_party=self._collateral_party(
                contact_type, c.collateral_party, required=False
            ),
        )

    @execute.register
    def schedule_contact(self, c: cmd.ScheduleContact, actor: Actor) -> None:
        """Book an appointment; its outcome is recorded once it has happened."""
        self._check_new_id(c.contact_id)
        contact_type = parse(ContactType, c.contact_type, "contact_type")
        if c.scheduled_for.tzinfo is None:
            raise InvalidInput("scheduled_for", "must include a timezone")
        if c.scheduled_for.astimezone(UTC) < self.opened_at:
            raise InvalidInput("scheduled_for", "must not be before the case opened")
        enforceable = (
            contact_type in policies.ENFORCEABLE_BY_DEFAULT
            if c.enforceable is None
            else _bool("enforceable")(c.enforceable)
        )
        self._record(
            self.ContactScheduled,
            actor,
            c,
            contact_id=c.contact_id,
            contact_type=contact_type,
            method=parse(ContactMethod, c.method, "method"),
            place=parse(ContactPlace, c.place, "place"),
            scheduled_for=c.scheduled_for.astimezone(UTC),
            enforceable=enforceable,
            collateral_party=self._collateral_party(
                contact_type, c.collateral_party, required=True
            ),
            location=None
            if c.location is None
            else require_text(c.location, "location", max_length=500),
            summary=None if c.summary is None else require_text(c.summary, "summary"),
            sensitive=_bool("sensitive")(c.sensitive),
            victim_info=_bool("victim_info")(c.victim_info),
            labels=_labels(c.labels),
        )

    @execute.register
    def record_contact_outcome(self, c: cmd.RecordContactOutcome, actor: Actor) -> None:
        """Record what became of a contact; a second outcome is a change, with a
        reason, that keeps the old value in the history."""
        contact = self._live_entry(EntryKind.CONTACT, c.contact_id)
        outcome = parse(ContactOutcome, c.outcome, "outcome")
        held = contact["held_at"]
        if held > self.Event.create_timestamp():
            raise InvalidTransition(f"contact {c.contact_id} has not happened yet")
        if outcome == ContactOutcome.ACCEPTABLE_ABSENCE:
            if c.absence_reason is None:
                raise InvalidInput("absence_reason", "an acceptable absence needs one")
            reason_code: str | None = parse(
                AbsenceReason, c.absence_reason, "absence_reason"
            )
        elif c.absence_reason is not None:
            raise InvalidInput("absence_reason", "only for an acceptable absence")
        else:
            reason_code = None
        due = None
        if outcome == ContactOutcome.FAILED_TO_ATTEND:
            due = c.evidence_due or policies.evidence_due(derived.day(held))
            if due < derived.day(held):
                raise InvalidInput("evidence_due", "must not be before the contact")
        elif c.evidence_due is not None:
            raise InvalidInput("evidence_due", "only for failed to attend")
        previous = contact.get("outcome")
        fields: dict[str, Any] = {
            "contact_id": c.contact_id,
            "outcome": outcome,
            "absence_reason": reason_code,
            "evidence_due": due,
        }
        if previous is None:
            self._record(self.ContactOutcomeRecorded, actor, c, about=contact, **fields)
            return
        if previous == outcome and contact.get("absence_reason") == reason_code:
            raise InvalidTransition(f"contact {c.contact_id} is already {outcome}")
        require_reason(c.reason, "changing a contact's outcome")
        self._record(
            self.ContactOutcomeChanged,
            actor,
            c,
            about=contact,
            previous_outcome=previous,
            **fields,
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
            labels=_labels(c.labels),
        )

    @execute.register
    def record_violation(self, c: cmd.RecordViolation, actor: Actor) -> None:
        """A violation names the conditions it breaches and where it came to light."""
        self._check_new_id(c.violation_id)
        kind = parse(ViolationKind, c.kind, "kind")
        for condition_id in c.condition_ids:
            if condition_id not in self.conditions:
                raise UnknownEntry("condition", condition_id)
        if len(set(c.condition_ids)) != len(c.condition_ids):
            raise InvalidInput("condition_ids", "names a condition twice")
        source = (
            None if c.source is None else parse(ViolationSource, c.source, "source")
        )
        if (source is None) != (c.source_ref is None):
            raise InvalidInput("source_ref", "a source and its reference go together")
        kind_of_entry = policies.SOURCE_ENTRY_KIND.get(source) if source else None
        if kind_of_entry is not None:
            assert c.source_ref is not None
            self._live_entry(kind_of_entry, c.source_ref)
        now = self.Event.create_timestamp()
        discovered = None
        if c.discovered_at is not None:
            discovered = _effective_time(c.discovered_at, now, not_before=None)
            happened = _effective_time(c.effective_at, now, not_before=self.opened_at)
            if discovered < happened:
                raise InvalidInput("discovered_at", "must not be before it happened")
        self._record(
            self.ViolationRecorded,
            actor,
            c,
            violation_id=c.violation_id,
            kind=kind,
            severity=parse(ViolationSeverity, c.severity, "severity"),
            description=require_text(c.description, "description"),
            category=policies.violation_category(kind),
            condition_ids=list(c.condition_ids),
            source=source,
            source_ref=c.source_ref,
            discovered_at=discovered,
        )

    @execute.register
    def issue_warrant(self, c: cmd.IssueWarrant, actor: Actor) -> None:
        """A warrant on an open violation: the case's status becomes warrant."""
        violation = self._open_violation(c.violation_id)
        self._check_new_id(c.warrant_id)
        self._record(
            self.WarrantIssued,
            actor,
            c,
            about=violation,
            warrant_id=c.warrant_id,
            violation_id=c.violation_id,
            issuing_authority=require_text(c.issuing_authority, "issuing_authority"),
        )

    @execute.register
    def execute_warrant(self, c: cmd.ExecuteWarrant, actor: Actor) -> None:
        """The person was arrested on the warrant: in custody until a court decides."""
        warrant = self._live_entry(EntryKind.WARRANT, c.warrant_id)
        if warrant["executed_at"] is not None:
            raise InvalidTransition(f"warrant {c.warrant_id} was already executed")
        self._open_violation(warrant["violation_id"])
        self._record(
            self.WarrantExecuted, actor, c, about=warrant, warrant_id=c.warrant_id
        )

    @execute.register
    def schedule_hearing(self, c: cmd.ScheduleHearing, actor: Actor) -> None:
        violation = self._open_violation(c.violation_id)
        self._check_new_id(c.hearing_id)
        if c.scheduled_for.tzinfo is None:
            raise InvalidInput("scheduled_for", "must include a timezone")
        self._record(
            self.HearingScheduled,
            actor,
            c,
            about=violation,
            violation_id=c.violation_id,
            hearing_id=c.hearing_id,
            hearing_type=parse(HearingType, c.hearing_type, "hearing_type"),
            scheduled_for=c.scheduled_for.astimezone(UTC),
            body=require_text(c.body, "body", max_length=500),
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
        if c.hearing_id is not None:
            hearing = self._live_entry(EntryKind.HEARING, c.hearing_id)
            if hearing["violation_id"] != c.violation_id:
                raise InvalidInput("hearing_id", "is a hearing on another violation")
        for name in ("custody_days", "term_extension_days"):
            if int(getattr(c, name)) < 0:
                raise InvalidInput(name, "must not be negative")
        if c.term_extension_days and self.term_end is None:
            raise InvalidInput("term_extension_days", "the order has no end to extend")
        self._record(
            self.CourtActionRecorded,
            actor,
            c,
            about=violation,
            violation_id=c.violation_id,
            court_action_id=c.court_action_id,
            hearing=require_text(c.hearing, "hearing"),
            outcome=outcome,
            hearing_id=c.hearing_id,
            finding=None
            if c.finding is None
            else parse(CourtFinding, c.finding, "finding"),
            custody_days=c.custody_days,
            term_extension_days=c.term_extension_days,
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
            labels=_labels(c.labels),
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

    @execute.register
    def evaluate_alerts(self, c: cmd.EvaluateAlerts, actor: Actor) -> None:
        """Raise the alerts the rules say are due at ``as_of`` and not raised yet
        (a key is never raised twice), resolve those no longer due. The system's act."""
        if actor.role != SYSTEM_ROLE:
            raise NotEntitled("only the system evaluates alerts")
        if c.as_of.tzinfo is None:
            raise InvalidEffectiveTime("as_of must include a timezone")
        if self.sealed is not None:
            return  # a sealed case takes no entries, alerts included
        now = self.Event.create_timestamp()
        # Effective when evaluated (never in the future, never before the opening).
        at = max(min(c.as_of.astimezone(UTC), now), self.opened_at)
        due = {
            d.key: d
            for d in due_rules.due_alerts(derived.facts(self), derived.day(c.as_of))
        }
        last_entry = self._last_entry_version()
        for alert in list(self.alerts.values()):
            if alert["resolved"] is not None:
                continue
            by: int | None
            if (
                alert["kind"] in due_rules.RESOLVED_BY_ACKNOWLEDGEMENT
                and alert["acknowledged"]
            ):
                how, by = (
                    AlertResolution.ACKNOWLEDGEMENT,
                    alert["acknowledged"]["version"],
                )
            elif alert["key"] in due:
                continue
            elif last_entry > alert["raised_version"]:
                how, by = AlertResolution.EVENT, last_entry
            else:
                how, by = AlertResolution.TIME, None
            self._record(
                self.AlertResolved,
                actor,
                c,
                allow_closed=True,
                effective_at=at,
                reason=None,
                alert_id=alert["id"],
                kind=alert["kind"],
                resolution=how,
                by_version=by,
                rule_version=alert["rule_version"],
                as_of=c.as_of,
            )
        raised = {a["key"] for a in self.alerts.values()}
        for key, d in due.items():
            if key in raised:
                continue
            self._record(
                self.AlertRaised,
                actor,
                c,
                allow_closed=True,
                effective_at=at,
                reason=None,
                alert_id=f"{self.id}.{len(self.alerts) + 1}",
                kind=d.kind,
                key=key,
                severity=d.severity,
                due_at=d.due_at,
                detail=d.detail,
                rule_version=d.rule_version,
                as_of=c.as_of,
                zone=str(derived.agency_zone()),
            )

    @execute.register
    def acknowledge_alert(self, c: cmd.AcknowledgeAlert, actor: Actor) -> None:
        """The officer's acknowledgement, with a note: their act, in their name."""
        alert = self._open_alert(c.alert_id)
        if alert["acknowledged"] is not None:
            raise InvalidTransition(f"alert {c.alert_id} is already acknowledged")
        self._record(
            self.AlertAcknowledged,
            actor,
            c,
            allow_closed=True,
            alert_id=c.alert_id,
            kind=alert["kind"],
            note=require_text(c.note, "note"),
        )

    @execute.register
    def snooze_alert(self, c: cmd.SnoozeAlert, actor: Actor) -> None:
        """Put an alert aside until a time within ``policies.MAX_SNOOZE``."""
        alert = self._open_alert(c.alert_id)
        require_reason(c.reason, "snoozing an alert")
        if c.until.tzinfo is None:
            raise InvalidInput("until", "must include a timezone")
        now = self.Event.create_timestamp()
        until = c.until.astimezone(UTC)
        if until <= now:
            raise InvalidInput("until", "must be in the future")
        if until > now + policies.MAX_SNOOZE:
            raise InvalidInput(
                "until", f"must be within {policies.MAX_SNOOZE.days} days"
            )
        self._record(
            self.AlertSnoozed,
            actor,
            c,
            allow_closed=True,
            alert_id=c.alert_id,
            kind=alert["kind"],
            until=until,
        )

    def _open_alert(self, alert_id: str) -> Entry:
        alert = self.alerts.get(alert_id)
        if alert is None:
            raise UnknownEntry("alert", alert_id)
        if alert["resolved"] is not None:
            raise InvalidTransition(f"alert {alert_id} is resolved")
        return alert

    def _last_entry_version(self) -> int:
        """The version of the case's latest event that is not about an alert."""
        alert_versions = set(self.alert_versions)
        version = self.version
        while version in alert_versions:
            version -= 1
        return version

    # Queries on current state.

    # Queries ask ``derived``, the one derivation the caseload read model uses too.

    def live_entries(self, kind: EntryKind) -> list[Entry]:
        """Entries of one kind that have not been voided, in recording order."""
        return derived.live_entries(self.entries, kind)

    def open_violations(self) -> list[Entry]:
        """Violations still waiting for a response that stands (not voided)."""
        return derived.open_violations(self.entries)

    def contact_compliance(self, month: date) -> dict[str, Any]:
        """Whether a calendar month met the contact standard then in force."""
        return derived.month_compliance(derived.facts(self), month)

    def breach_due(self, today: date) -> bool:
        """Whether unacceptable absences have reached the breach threshold."""
        return derived.breach_due(derived.facts(self), today)

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

    def add_contact(
        self,
        event: Probationer.ContactLogged | Probationer.ContactScheduled,
        **fields: Any,
    ) -> None:
        """A contact entry: what logged and scheduled contacts both record, and
        ``fields`` that tell them apart."""
        self.add_entry(
            event,
            EntryKind.CONTACT,
            event.contact_id,
            contact_type=event.contact_type,
            location=event.location,
            summary=event.summary,
            sensitive=event.sensitive,
            victim_info=event.victim_info,
            method=event.method,
            place=event.place,
            enforceable=event.enforceable,
            collateral_party=event.collateral_party,
            absence_reason=None,
            evidence_due=None,
            labels=list(event.labels),
            **fields,
        )

    def set_outcome(
        self,
        event: Probationer.ContactOutcomeRecorded | Probationer.ContactOutcomeChanged,
    ) -> None:
        contact = self.entries[event.contact_id]
        outcome = ContactOutcome(event.outcome)
        contact["outcome"] = event.outcome
        contact["attendance"] = policies.ATTENDANCE_FOR_OUTCOME[outcome]
        contact["complied"] = policies.OUTCOME_FLAGS[outcome].complied
        contact["absence_reason"] = event.absence_reason
        contact["evidence_due"] = event.evidence_due
        contact["last_version"] = event.originator_version
        contact.setdefault("outcomes", []).append(event.originator_version)

    def refresh_status(self) -> None:
        """An open case's status follows its violations and warrants (``derived``)."""
        if self.status != CaseStatus.CLOSED:
            self.status = derived.open_status(self.entries)

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

    def _collateral_party(
        self, contact_type: ContactType, party: str | None, *, required: bool
    ) -> str | None:
        """A collateral contact names who it was with; no other contact does."""
        if contact_type != ContactType.COLLATERAL:
            if party is not None:
                raise InvalidInput("collateral_party", "only for a collateral contact")
            return None
        if party is None:
            if required:
                raise InvalidInput("collateral_party", "name who it was with")
            return None
        return require_text(party, "collateral_party", max_length=500)

    def _open_violation(self, violation_id: str) -> Entry:
        violation = self._live_entry(EntryKind.VIOLATION, violation_id)
        if not derived.is_open(self.entries, violation):
            raise InvalidTransition(f"violation {violation_id} is already disposed of")
        return violation

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


def _labels(given: Sequence[object], implied: Sequence[Label] = ()) -> list[str]:
    """Checked labels, sorted and once each, with those the entry's kind implies."""
    return sorted({parse(Label, v, "labels") for v in given} | set(implied))


# What a referral entry folded before the lifecycle's fields existed holds instead.
REFERRAL_DEFAULTS: dict[str, Any] = {
    "goal_id": None,
    "condition_id": None,
    "consent_id": None,
    "desired_outcomes": list,
    "labels": list,
    "sessions": dict,
    "last_session_on": None,
    "withdrawal": None,
    "outcomes": dict,
}


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
