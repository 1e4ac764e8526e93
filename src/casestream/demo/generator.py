"""A realistic demo caseload, written through CaseHistory's commands only.

The demo never touches storage: every entry it writes passed the same rules a real
officer's entry would, so the demo doubles as a smoke test of those rules. Each case is
first planned as a script of commands (streams of contacts, referrals, tests… generated
independently), then run in effective-time order, so the recorded history reads as
months of ordinary work. Times are offsets from today's midnight (UTC): the demo always
looks current, and one seed gives the same story whichever day it is loaded.

For agency-scale stores (a million events in a few minutes) ``batch=True`` runs the same
script on the aggregate in memory, with the same aggregate commands and rules, and saves
many people's histories per transaction through ``CaseHistory.save`` (which also takes
the snapshots); the officer roster grows with the caseload (``roster_for``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from casestream.application import CaseHistory
from casestream.demo.data import (
    AGREEMENTS,
    ASSESSMENT_OVERRIDE_REASONS,
    CLOSURE_REASONS,
    COLLATERAL_PARTIES,
    CONTACT_MIX,
    COURT_CONDITIONS,
    COURTS,
    DEFAULT_MONTHS,
    DEFAULT_ROSTER,
    DRUGS,
    FACE_TO_FACE,
    FATE_SHARES,
    FIRST_NAMES,
    GOALS,
    INCENTIVE_REASONS,
    INSTRUMENT_WEIGHTS,
    INSTRUMENTS,
    LAST_NAMES,
    LEVEL_ORDER,
    NEED_SERVICES,
    NOTES,
    OFFENCES,
    OVERRIDE_DOWN_REASONS,
    OVERRIDE_UP_REASONS,
    PARTNERS,
    PLACES,
    REFERRAL_PATH_WEIGHTS,
    REFERRAL_PATHS,
    RISK_WEIGHTS,
    SESSION_ATTENDANCE,
    SESSION_ATTENDANCE_WEIGHTS,
    STANDARD_CONDITIONS,
    STRENGTHS,
    SUMMARIES,
    TOPICS,
    WITHDRAWAL_CODES,
    InstrumentSpec,
    Milestone,
    Offence,
    Roster,
    officer_name,
    roster_for,
    unit_name,
)
from casestream.domain import commands as cmd, policies
from casestream.domain.partner import Partner
from casestream.domain.probationer import Probationer
from casestream.domain.values import (
    Actor,
    AssessmentPurpose,
    Attendance,
    ClosureOutcome,
    ContactOutcome,
    ContactType,
    CourtOutcome,
    GoalStatus,
    NeedArea,
    NeedSeverity,
    NoteCategory,
    ReferralStatus,
    Response,
    RiskLevel,
    ServiceType,
    SupervisionLevel,
    SupervisionType,
    ViolationKind,
    ViolationSeverity,
)

# --- What one case is: a script of commands, decided up front, run in time order.


@dataclass(frozen=True)
class Features:
    """The rarer things that happen to a case, spread so even a small demo shows each."""

    fate: ClosureOutcome | None = None
    transfer: bool = False
    override: bool = False
    correction: bool = False
    void: bool = False
    # Absconds, is arrested on a warrant and the court continues the order.
    absconds: bool = False
    # The intake assessment's level is overridden one step up.
    assessment_override: bool = False


@dataclass(frozen=True)
class PartnerRef:
    id: str
    name: str
    services: tuple[ServiceType, ...]


@dataclass(frozen=True)
class Step:
    """One command of a case, placed on the case's timeline.

    ``creates`` names the entry a one-event command writes and ``targets`` the entry
    whose current version a correction or void needs: only known while running.
    """

    at: datetime
    seq: int
    command: type[cmd.CaseCommand]
    fields: dict[str, Any]
    creates: str | None = None
    targets: str | None = None


@dataclass(frozen=True)
class ReferralOutcome:
    """How far a referral got, so goal progress can follow it."""

    goal_id: str
    label: str
    enrolled_at: datetime | None
    ended: tuple[ReferralStatus, datetime] | None


@dataclass
class CaseScript:
    """Everything that happens to one person, decided before anything is written.

    Streams (contacts, tests, referrals…) are generated one after another but interleave
    in time; the milestones below let each stream know the officer, supervision level
    and risk in force at any moment, exactly as the aggregate will when it runs.
    """

    rng: random.Random
    opening: dict[str, Any]
    first_name: str
    offence: Offence
    case_number: str
    court: str
    opened_at: datetime
    limit: datetime  # nothing else takes effect at or after this: closure, or today
    routine_until: datetime  # ordinary work stops here: the limit, or a revoking breach
    instrument: InstrumentSpec
    assessments: list[tuple[datetime, RiskLevel, AssessmentPurpose]]
    override: tuple[datetime, SupervisionLevel, str] | None
    officers: list[tuple[datetime, str, str]]
    roster: Roster
    closure: tuple[ClosureOutcome, str] | None = None
    revocation: tuple[datetime, datetime, datetime] | None = None
    # When the person absconded, and when the warrant was executed (None: never).
    absconding: tuple[datetime, datetime | None] | None = None
    # The instrument's own level at intake, when the assessor overrode it.
    intake_raw: RiskLevel | None = None
    substance: str | None = None
    needs: list[tuple[NeedArea, NeedSeverity]] = field(default_factory=list)
    goals: list[dict[str, Any]] = field(default_factory=list)
    plan_at: datetime | None = None
    goal_log: list[tuple[datetime, str, GoalStatus]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        at: datetime,
        command: type[cmd.CaseCommand],
        *,
        creates: str | None = None,
        targets: str | None = None,
        **fields: Any,
    ) -> bool:
        """Schedule a command; refuse (False) one that would fall after routine work."""
        if at >= self.routine_until:
            return False
        step = Step(at, len(self.steps), command, fields, creates, targets)
        self.steps.append(step)
        return True

    def new_id(self, prefix: str) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}{self.counters[prefix]}"

    def officer(self, at: datetime) -> Actor:
        return Actor(_latest(self.officers, at)[1], "officer")

    def supervisor(self, at: datetime) -> Actor:
        return Actor(
            self.roster.supervisors[_latest(self.officers, at)[2]], "supervisor"
        )

    def unit(self, at: datetime) -> str:
        return _latest(self.officers, at)[2]

    def risk_at(self, at: datetime) -> RiskLevel | None:
        """The risk the aggregate will hold at ``at``: the latest assessment's."""
        earlier = [(a, risk) for a, risk, _ in self.assessments if a <= at]
        return earlier[-1][1] if earlier else None

    def level_at(self, at: datetime) -> SupervisionLevel:
        """The supervision level in force at ``at`` (policy, or a later override)."""
        changes = [(self.opened_at, SupervisionLevel.PENDING_ASSESSMENT)]
        changes += [
            (a, policies.supervision_level_for(r)) for a, r, _ in self.assessments
        ]
        if self.override is not None:
            changes.append(self.override[:2])
        return _latest(sorted(changes, key=lambda c: c[0]), at)[1]


def load_demo(
    app: CaseHistory,
    people: int,
    *,
    seed: int = 7,
    months: int = DEFAULT_MONTHS,
    batch: bool = False,
    batch_events: int = 2000,
    officer_tag: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[UUID]:
    """Write ~6 partners and ``people`` cases of months of ordinary work; return the ids.

    Cases were opened up to ``months`` months ago. By default every entry is one
    CaseHistory command (load, check, save: one transaction each), as an officer would
    write it. With ``batch``, each person's whole history is built on the aggregate in
    memory (the same commands, rules and events) and cases are saved together, about
    ``batch_events`` events per transaction: the same story for the same seed, many
    times faster. ``officer_tag`` gives this demo its own officers (``roster_for``).
    ``progress(1)`` is called after each person (a CLI progress bar).
    """
    ids: list[UUID] = []
    if not batch:
        for script in _scripts(app, people, seed, months, officer_tag):
            ids.append(_run(app, script))
            if progress is not None:
                progress(1)
        return ids
    pending: list[Probationer] = []
    pending_events = 0
    cases = demo_cases(app, people, seed=seed, months=months, officer_tag=officer_tag)
    for case in cases:
        ids.append(case.id)
        pending.append(case)
        pending_events += len(case.pending_events)
        if pending_events >= batch_events:
            app.save(*pending)
            pending, pending_events = [], 0
        if progress is not None:
            progress(1)
    if pending:
        app.save(*pending)
    return ids


def demo_cases(
    app: CaseHistory,
    people: int,
    *,
    seed: int = 7,
    months: int = DEFAULT_MONTHS,
    officer_tag: str | None = None,
) -> Iterator[Probationer]:
    """The demo's cases, each with its whole history as pending events, not yet saved.

    Registers the partner directory in ``app`` first (referrals point at it); the
    caller saves the cases (``app.save(*cases)``), in whatever batches it likes.
    """
    partners: dict[str, Partner] = {}
    for script in _scripts(app, people, seed, months, officer_tag, partners):
        yield _build(script, partners)


def _scripts(
    app: CaseHistory,
    people: int,
    seed: int,
    months: int,
    officer_tag: str | None,
    directory: dict[str, Partner] | None = None,
) -> Iterator[CaseScript]:
    """Register the partners, then plan each person's case, in seed order."""
    if months < 1:
        raise ValueError("months must be at least 1")
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    horizon = int(months * 365 / 12)
    roster = roster_for(people, officer_tag)
    _register_directory(app, roster)
    partners = _register_partners(app)
    if directory is not None:
        directory.update({p.id: app.get_partner(UUID(p.id)) for p in partners})
    for person_features in _spread_features(rng, people):
        script = _plan_case(rng, today, person_features, horizon, roster)
        _write_streams(script, partners, person_features)
        yield script


def _register_directory(app: CaseHistory, roster: Roster) -> None:
    """The units and officers cases are assigned to, registered by an administrator
    as in real use (those an earlier demo in this store registered are kept)."""
    actor = Actor("admin-demo", "admin")
    for unit_id in sorted({unit for _, unit in roster.officers}):
        if app.find_unit(unit_id) is None:
            app.execute(
                None,
                cmd.RegisterUnit(unit_id=unit_id, name=unit_name(unit_id)),
                actor=actor,
            )
    for officer_id, unit_id in roster.officers:
        if app.find_officer(officer_id) is None:
            app.execute(
                None,
                cmd.RegisterOfficer(
                    officer_id=officer_id,
                    name=officer_name(officer_id),
                    unit_id=unit_id,
                ),
                actor=actor,
            )


def _register_partners(app: CaseHistory) -> list[PartnerRef]:
    """The directory referrals draw on, registered by a supervisor as in real use."""
    actor = Actor("supervisor-mara", "supervisor")
    refs: list[PartnerRef] = []
    for p in PARTNERS:
        services = [str(s) for s in p.services]
        partner_id = app.execute(
            None,
            cmd.RegisterPartner(name=p.name, services=services, contact=p.contact),  # type: ignore[arg-type]
            actor=actor,
        ).id
        refs.append(PartnerRef(str(partner_id), p.name, p.services))
    return refs


def _spread_features(rng: random.Random, people: int) -> list[Features]:
    """Give cases their closures (``FATE_SHARES``) and the rare events; even a small
    demo has a completion, a revocation and one of each rare event."""
    chosen = rng.sample(range(people), people)
    fates: dict[int, ClosureOutcome] = {}
    taken = 0
    for fate, share in FATE_SHARES.items():
        # At least one completed and one revoked case, however small the demo.
        least = fate in (ClosureOutcome.COMPLETED, ClosureOutcome.REVOKED)
        n = max(int(least), round(people * share))
        for i in chosen[taken : taken + n]:
            fates[i] = fate
        taken += n

    def some(share: float) -> set[int]:
        return set(
            rng.sample(range(people), min(people, max(1, round(people * share))))
        )

    transfers, overrides = some(0.08), some(0.10)
    corrections, voids = some(0.15), some(0.08)
    absconders, assessment_overrides = some(0.04), some(0.10)
    return [
        Features(
            fate=fates.get(i),
            transfer=i in transfers,
            override=i in overrides,
            correction=i in corrections,
            void=i in voids,
            absconds=i in absconders and i not in fates,
            assessment_override=i in assessment_overrides,
        )
        for i in range(people)
    ]


def _build(script: CaseScript, partners: dict[str, Partner]) -> Probationer:
    """The case with its whole history as pending events, built without the store.

    The same aggregate commands (and so the same rules) as ``_run``; the application's
    own check of a referral's partner is made against the directory in memory.
    """
    case = Probationer.open(*_opening(script))
    versions: dict[str, int] = {}
    for step in sorted(script.steps, key=lambda s: (s.at, s.seq)):
        command, actor = _command(step, versions)
        if isinstance(command, cmd.MakeReferral):
            partners[str(command.partner_id)].check_offers(command.service_type)
        case.execute(command, actor)
        for entry_id in (step.creates, step.targets):
            if entry_id is not None:
                versions[entry_id] = case.version
    if script.closure is not None:
        case.execute(*_closing(script))
    return case


def _run(app: CaseHistory, script: CaseScript) -> UUID:
    """Open the case, then run its steps in effective-time order; close it last."""
    opening, actor = _opening(script)
    case_id = app.execute(None, opening, actor=actor).id
    versions: dict[str, int] = {}
    for step in sorted(script.steps, key=lambda s: (s.at, s.seq)):
        command, actor = _command(step, versions)
        version = app.execute(case_id, command, actor=actor).version
        for entry_id in (step.creates, step.targets):
            if entry_id is not None:
                versions[entry_id] = version
    if script.closure is not None:
        closing, actor = _closing(script)
        app.execute(case_id, closing, actor=actor)
    return case_id


def _opening(script: CaseScript) -> tuple[cmd.OpenCase, Actor]:
    fields = dict(script.opening)
    actor = fields.pop("actor")
    return cmd.OpenCase(**fields), actor


def _command(step: Step, versions: dict[str, int]) -> tuple[cmd.CaseCommand, Actor]:
    """The step as a command, with the version of the entry it targets filled in."""
    fields = dict(step.fields)
    actor = fields.pop("actor")
    if step.targets is not None:
        fields["target_version"] = versions[step.targets]
    return step.command(effective_at=step.at, **fields), actor


def _closing(script: CaseScript) -> tuple[cmd.CloseCase, Actor]:
    assert script.closure is not None
    outcome, reason = script.closure
    command = cmd.CloseCase(outcome=outcome, reason=reason, effective_at=script.limit)
    return command, script.supervisor(script.limit)


# --- Planning a case: the person, the order, and the milestones every stream obeys.


def _plan_case(
    rng: random.Random,
    today: date,
    features: Features,
    horizon: int = 425,
    roster: Roster = DEFAULT_ROSTER,
) -> CaseScript:
    """Plan one case opened up to ``horizon`` days ago (425: about 14 months)."""
    fate = features.fate
    if fate == ClosureOutcome.COMPLETED:
        ago = rng.randint(372, max(horizon, 372))  # a 12-month term, served and closed
    elif fate is not None:
        ago = rng.randint(180, max(horizon, 180))
    else:
        ago = rng.randint(61, max(horizon, 61))
    opened_on = today - timedelta(days=ago)
    opened_at = _on(rng, opened_on, 10, 15)
    officer, unit = rng.choice(roster.officers)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    offence = rng.choice(OFFENCES)
    court = rng.choice(COURTS)
    case_number = f"CR-{opened_on.year}-{rng.randint(100, 9999):04d}"
    supervision = _supervision_type(rng, fate)
    term_end = _term_end(rng, opened_on, today, supervision, fate)
    opening: dict[str, Any] = {
        "actor": Actor(officer, "officer"),
        "person": _person(rng, first, last, today),
        "offences": _offences(rng, offence),
        "court_order": {
            "court": "State Parole Board"
            if supervision == SupervisionType.PAROLE
            else court,
            "case_number": case_number,
            "order_date": opened_on - timedelta(days=rng.randint(1, 14)),
        },
        "supervision_type": str(supervision),
        "term_start": opened_on,
        "term_end": term_end,
        "conditions": _conditions(offence),
        "officer_id": officer,
        "unit_id": unit,
        "effective_at": opened_at,
    }
    limit = datetime.combine(today, time(), UTC)
    absconding: tuple[datetime, datetime | None] | None = None
    closure: tuple[ClosureOutcome, str] | None = None
    revocation: tuple[datetime, datetime, datetime] | None = None
    if fate == ClosureOutcome.COMPLETED and term_end is not None:
        limit = _on(rng, term_end + timedelta(days=rng.randint(0, 3)), 10, 16)
        closure = (fate, "Term of supervision served; all conditions met")
    elif fate == ClosureOutcome.REVOKED:
        revocation = _revocation_times(rng, opened_at, ago)
        # The court's revocation closes the case itself (no separate closure).
        limit = revocation[2] + timedelta(hours=rng.randint(1, 3))
    elif fate == ClosureOutcome.ABSCONDED:
        gone = _on(rng, opened_on + timedelta(days=rng.randint(60, ago - 100)))
        absconding = (gone, None)
        limit = _later(rng, gone, 61, 90)  # closed administratively, still wanted
        closure = (fate, CLOSURE_REASONS[fate])
    elif fate is not None:
        limit = _on(rng, opened_on + timedelta(days=rng.randint(90, ago - 7)))
        closure = (fate, CLOSURE_REASONS[fate])
    if features.absconds:
        gone = _on(rng, opened_on + timedelta(days=rng.randint(30, max(31, ago - 45))))
        absconding = (gone, _later(rng, gone, 7, 30))
    intake_at = _later(rng, opened_at, 3, 20)
    instrument = rng.choices(INSTRUMENTS, INSTRUMENT_WEIGHTS)[0]
    bands = list(instrument.bands)
    risk = rng.choices(bands, [RISK_WEIGHTS[b] for b in bands])[0]
    intake_raw = None
    if features.assessment_override:  # the assessor scores one band higher
        index = bands.index(risk)
        if index > 0:
            intake_raw = bands[index - 1]
    script = CaseScript(
        rng=rng,
        opening=opening,
        first_name=first,
        offence=offence,
        case_number=case_number,
        court=court,
        opened_at=opened_at,
        limit=limit,
        routine_until=revocation[0]
        if revocation
        else absconding[0]
        if absconding and absconding[1] is None
        else limit,
        instrument=instrument,
        assessments=[(intake_at, risk, AssessmentPurpose.INTAKE)],
        override=None,
        officers=[(opened_at, officer, unit)],
        roster=roster,
        closure=closure,
        revocation=revocation,
        substance={"drugs": rng.choice(DRUGS), "alcohol": "alcohol"}.get(
            offence.substance or ""
        ),
        absconding=absconding,
        intake_raw=intake_raw,
    )
    if features.override:
        script.override = _override(rng, intake_at, risk)
    _schedule_reassessments(script)
    if features.transfer:
        _schedule_transfer(script)
    return script


def _supervision_type(
    rng: random.Random, fate: ClosureOutcome | None
) -> SupervisionType:
    if fate is not None:  # completions and revocations need a fixed term
        return rng.choices([SupervisionType.PROBATION, SupervisionType.PAROLE], [4, 1])[
            0
        ]
    return rng.choices(
        [
            SupervisionType.PROBATION,
            SupervisionType.PAROLE,
            SupervisionType.DUAL,
            SupervisionType.DIVERSION,
            SupervisionType.PRETRIAL,
        ],
        [70, 15, 4, 6, 5],
    )[0]


def _term_end(
    rng: random.Random,
    start: date,
    today: date,
    supervision: SupervisionType,
    fate: ClosureOutcome | None,
) -> date | None:
    """Terms run 12-36 months; an open case's term has not yet ended."""
    if supervision == SupervisionType.PRETRIAL:
        return None  # supervised until trial, date unknown
    if fate == ClosureOutcome.COMPLETED:
        return start + timedelta(days=364)
    lengths = [d for d in (365, 548, 730, 1095) if start + timedelta(days=d) > today]
    if not lengths:  # opened more than three years ago: a long order, still running
        lengths = [(today - start).days + rng.randint(30, 365)]
    return start + timedelta(days=rng.choice(lengths) - 1)


def _person(rng: random.Random, first: str, last: str, today: date) -> dict[str, Any]:
    age_days = rng.randint(19 * 365, 58 * 365)
    letter = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
    return {
        "name": f"{first} {last}",
        "date_of_birth": today - timedelta(days=age_days),
        "identifiers": {"crn": f"{letter}{rng.randint(100000, 999999)}"},
    }


def _offences(rng: random.Random, main: Offence) -> list[dict[str, Any]]:
    offences = [{"code": main.code, "description": main.description}]
    if rng.random() < 0.2:
        offences.append(
            {"code": "PARA-1", "description": "Possession of paraphernalia"}
        )
    return offences


def _conditions(offence: Offence) -> list[dict[str, Any]]:
    texts = [("standard", t) for t in STANDARD_CONDITIONS]
    texts += [("special", t) for t in offence.conditions]
    return [
        {"condition_id": f"c{n}", "category": category, "text": text}
        for n, (category, text) in enumerate(texts, start=1)
    ]


def _revocation_times(
    rng: random.Random, opened_at: datetime, ago: int
) -> tuple[datetime, datetime, datetime]:
    """Serious violation, petition to revoke, and the hearing that revokes."""
    violation = _on(rng, opened_at.date() + timedelta(days=rng.randint(100, ago - 45)))
    petition = _later(rng, violation, 1, 3)
    hearing = _later(rng, petition, 14, 35)
    return violation, petition, hearing


def _override(
    rng: random.Random, intake_at: datetime, risk: RiskLevel
) -> tuple[datetime, SupervisionLevel, str]:
    """A supervisor moves the level one step from policy, usually up."""
    index = LEVEL_ORDER.index(policies.supervision_level_for(risk))
    up = index + 1 < len(LEVEL_ORDER) and (index <= 1 or rng.random() < 0.6)
    if up:
        return (
            _later(rng, intake_at, 1, 4),
            LEVEL_ORDER[index + 1],
            rng.choice(OVERRIDE_UP_REASONS),
        )
    return (
        _later(rng, intake_at, 1, 4),
        LEVEL_ORDER[index - 1],
        rng.choice(OVERRIDE_DOWN_REASONS),
    )


def _schedule_reassessments(script: CaseScript) -> None:
    """Reassess when policy says it is due (6 or 12 months); risk usually eases."""
    rng = script.rng
    at, risk, _ = script.assessments[0]
    bands = list(script.instrument.bands)
    while True:
        due = at + policies.REASSESSMENT_INTERVAL[risk]
        at = _later(rng, due - timedelta(days=14), 0, 21)
        if at >= script.routine_until - timedelta(days=1):
            return
        step = rng.choices([-1, 0, 1], [40, 45, 15])[0]
        risk = bands[min(max(bands.index(risk) + step, 0), len(bands) - 1)]
        script.assessments.append((at, risk, AssessmentPurpose.REASSESSMENT_SCHEDULED))


def _schedule_transfer(script: CaseScript) -> None:
    rng = script.rng
    start = script.assessments[0][0] + timedelta(days=30)
    at = _between(rng, start, script.routine_until - timedelta(days=7))
    if at is None:
        return
    officer = script.officers[0][1]
    new_officer, new_unit = rng.choice(
        [o for o in script.roster.officers if o[0] != officer]
    )
    script.officers.append((at, new_officer, new_unit))


# --- Streams: each writes one strand of the case's story into the script.


def _write_streams(
    script: CaseScript, partners: Sequence[PartnerRef], features: Features
) -> None:
    """The order here is generation order only; time order is restored when run."""
    rng = script.rng
    void_contact = features.void and rng.random() < 0.6
    void_note = features.void and not void_contact
    _assessments(script)
    _initial_plan(script)
    outcomes = _referrals(script, partners)
    _goal_progress(script, outcomes)
    _plan_reviews(script)
    _contacts(script, correct=features.correction, duplicate=void_contact)
    _collateral_contacts(script)
    _phone_calls(script)
    _treatment_sessions(script, outcomes)
    _drug_tests(script)
    _incidents(script)
    _incentives(script)
    _notes(script, void=void_note)
    _transfer(script)
    _absconding(script)
    _revocation(script)


def _assessments(script: CaseScript) -> None:
    """Intake and scheduled reassessments; intake needs feed the plan."""
    for n, (at, risk, purpose) in enumerate(script.assessments):
        scores, total = _scores(script, risk)
        needs = _needs(script, scores)
        if n == 0:
            script.needs = needs
            _note_substance(script, needs)
        strengths = script.rng.sample(STRENGTHS, script.rng.randint(1, 2))
        overridden = n == 0 and script.intake_raw is not None
        script.add(
            at,
            cmd.CompleteAssessment,
            actor=script.officer(at),
            assessment_id=script.new_id("a"),
            instrument=str(script.instrument.instrument),
            instrument_version=script.instrument.version,
            purpose=str(purpose),
            scores=scores,
            total=total,
            risk_level=str(script.intake_raw if overridden else risk),
            override_level=str(risk) if overridden else None,
            reason=script.rng.choice(ASSESSMENT_OVERRIDE_REASONS)
            if overridden
            else None,
            needs=[{"need_area": str(a), "severity": str(s)} for a, s in needs],
            strengths=strengths,
        )
    if script.override is not None:
        at, level, reason = script.override
        script.add(
            at,
            cmd.OverrideSupervisionLevel,
            actor=script.supervisor(at),
            level=str(level),
            reason=reason,
        )


def _note_substance(
    script: CaseScript, needs: Sequence[tuple[NeedArea, NeedSeverity]]
) -> None:
    """An assessed substance need brings testing even when the offence did not."""
    areas = {need for need, _ in needs}
    if script.substance is None and NeedArea.DRUG_USE in areas:
        script.substance = script.rng.choice(DRUGS)
    elif script.substance is None and NeedArea.ALCOHOL_USE in areas:
        script.substance = "alcohol"


def _domain_need(script: CaseScript, domain: str) -> NeedArea | None:
    """The need a domain signals; substance domains read as alcohol for drinkers."""
    need = script.instrument.domains[domain][1]
    if need == NeedArea.DRUG_USE and script.substance == "alcohol":
        return NeedArea.ALCOHOL_USE
    return need


def _scores(script: CaseScript, risk: RiskLevel) -> tuple[dict[str, int], int]:
    """A total inside the risk band, spread over domains, weighted to the offence."""
    rng = script.rng
    domains = script.instrument.domains
    lo, hi = script.instrument.bands[risk]
    total = rng.randint(lo, min(hi, sum(cap for cap, _ in domains.values())))
    scores = dict.fromkeys(domains, 0)
    for _ in range(total):
        open_ = [d for d, (cap, _) in domains.items() if scores[d] < cap]
        weights = [
            4 if _domain_need(script, d) in script.offence.needs else 1 for d in open_
        ]
        scores[rng.choices(open_, weights)[0]] += 1
    return scores, total


def _needs(
    script: CaseScript, scores: dict[str, int]
) -> list[tuple[NeedArea, NeedSeverity]]:
    """Domains scoring half or more of their maximum are needs; worst first."""
    ranked: dict[NeedArea, float] = {}
    for domain, (cap, _) in script.instrument.domains.items():
        need = _domain_need(script, domain)
        if need is None:
            continue
        ranked[need] = max(ranked.get(need, 0.0), scores[domain] / cap)
    order = sorted(ranked.items(), key=lambda kv: -kv[1])
    needs = [
        (need, NeedSeverity.HIGH if ratio >= 0.75 else NeedSeverity.MODERATE)
        for need, ratio in order
        if ratio >= 0.5
    ]
    return needs or [(order[0][0], NeedSeverity.LOW)]


def _initial_plan(script: CaseScript) -> None:
    """One to three goals for the worst needs, agreed a few days after intake."""
    rng = script.rng
    after = script.override[0] if script.override else script.assessments[0][0]
    at = _later(rng, after, 2, 10)
    needs = script.needs[: rng.randint(1, min(3, len(script.needs)))]
    script.goals = [
        _goal(rng, f"g{n}", need, at.date()) for n, (need, _) in enumerate(needs, 1)
    ]
    risk = script.assessments[0][1]
    countersign = risk in (RiskLevel.HIGH, RiskLevel.VERY_HIGH) or rng.random() < 0.2
    script.plan_at = at
    script.add(
        at,
        cmd.RevisePlan,
        actor=script.officer(at),
        plan_type="initial",
        prompted_by="intake",
        goals=script.goals,
        agreement=rng.choices(AGREEMENTS, [17, 1, 2])[0],
        countersigned_by=script.supervisor(at).id if countersign else None,
    )


def _goal(rng: random.Random, goal_id: str, need: NeedArea, on: date) -> dict[str, Any]:
    statement, objective, measure, interventions = GOALS[need]
    return {
        "goal_id": goal_id,
        "need_area": str(need),
        "statement": statement,
        "status": str(GoalStatus.ACTIVE),
        "objectives": [
            {
                "objective_id": f"{goal_id}-o1",
                "description": objective,
                "measure": measure,
                "target_date": on + timedelta(days=rng.randint(90, 180)),
                "interventions": list(interventions),
            }
        ],
    }


def _referrals(
    script: CaseScript, partners: Sequence[PartnerRef]
) -> list[ReferralOutcome]:
    """One referral per goal, to a partner offering a fitting service."""
    rng = script.rng
    assert script.plan_at is not None
    made_at = script.plan_at
    outcomes: list[ReferralOutcome] = []
    for goal in script.goals:
        need = NeedArea(goal["need_area"])
        offered = [
            (s, p) for s in NEED_SERVICES[need] for p in partners if s in p.services
        ]
        service, partner = rng.choice(offered)
        made_at = _later(rng, made_at, 1, 14)
        referral_id = script.new_id("r")
        court_ordered = need in script.offence.ordered
        if not script.add(
            made_at,
            cmd.MakeReferral,
            actor=script.officer(made_at),
            referral_id=referral_id,
            partner_id=partner.id,
            service_type=str(service),
            need_addressed=str(need),
            court_ordered=court_ordered,
        ):
            break
        label = f"{service.replace('_', ' ')} at {partner.name}"
        outcome = _referral_lifecycle(
            script, referral_id, made_at, goal["goal_id"], label
        )
        outcomes.append(outcome)
        if (
            court_ordered
            and outcome.ended
            and outcome.ended[0] == ReferralStatus.UNSUCCESSFUL
        ):
            at = _later(rng, outcome.ended[1], 1, 3)
            _violation(
                script,
                at,
                ViolationKind.TREATMENT_NON_COMPLIANCE,
                ViolationSeverity.MODERATE,
                f"Discharged unsuccessfully from court-ordered {label}",
            )
    return outcomes


def _referral_lifecycle(
    script: CaseScript, referral_id: str, made_at: datetime, goal_id: str, label: str
) -> ReferralOutcome:
    """made → accepted → enrolled (with the provider's sessions) → completed or
    unsuccessful; some declined, withdrawn or stalled."""
    rng = script.rng
    path = rng.choices(REFERRAL_PATHS, REFERRAL_PATH_WEIGHTS)[0]
    at, enrolled_at = made_at, None
    ended: tuple[ReferralStatus, datetime] | None = None
    for status, min_days, max_days, reasons in path:
        at = _later(rng, at, min_days, max_days)
        if enrolled_at is not None:
            _sessions(script, referral_id, enrolled_at, at)
        withdrawn = status == ReferralStatus.WITHDRAWN
        if not script.add(
            at,
            cmd.ChangeReferralStatus,
            actor=script.officer(at),
            referral_id=referral_id,
            status=str(status),
            reason=rng.choice(reasons) if reasons else None,
            withdrawal_reason=rng.choice(WITHDRAWAL_CODES) if withdrawn else None,
        ):
            break
        if status == ReferralStatus.ENROLLED:
            enrolled_at = at
        elif status != ReferralStatus.ACCEPTED:
            ended = (status, at)
    if enrolled_at is not None and ended is None:  # still attending
        _sessions(script, referral_id, enrolled_at, script.routine_until)
    return ReferralOutcome(goal_id, label, enrolled_at, ended)


def _sessions(
    script: CaseScript, referral_id: str, after: datetime, before: datetime
) -> None:
    """The provider's sessions, about weekly, while the person is enrolled."""
    rng = script.rng
    at = _later(rng, after, 3, 10)
    while at < before:
        attendance = rng.choices(SESSION_ATTENDANCE, SESSION_ATTENDANCE_WEIGHTS)[0]
        if not script.add(
            at,
            cmd.RecordReferralSession,
            actor=script.officer(at),
            referral_id=referral_id,
            session_id=script.new_id("s"),
            on=at.date(),
            attendance=attendance,
        ):
            return
        at = _later(rng, at, 5, 10)


def _goal_progress(script: CaseScript, outcomes: Sequence[ReferralOutcome]) -> None:
    """Goals move with their referral: attending, then achieved or back to the drawing board."""
    rng = script.rng
    for outcome in outcomes:
        if outcome.enrolled_at is None:
            continue
        note_at = _later(rng, outcome.enrolled_at, 14, 40)
        if outcome.ended is None or note_at < outcome.ended[1]:
            _progress(
                script,
                note_at,
                outcome.goal_id,
                GoalStatus.ACTIVE,
                f"Attending {outcome.label}; engaging well.",
            )
        if outcome.ended is None:
            continue
        status, ended_at = outcome.ended
        if status == ReferralStatus.COMPLETED:
            _progress(
                script,
                _later(rng, ended_at, 1, 10),
                outcome.goal_id,
                GoalStatus.ACHIEVED,
                f"Completed {outcome.label}.",
            )
        else:
            _progress(
                script,
                _later(rng, ended_at, 1, 10),
                outcome.goal_id,
                GoalStatus.ACTIVE,
                f"Left {outcome.label}; discussing another provider.",
            )


def _progress(
    script: CaseScript, at: datetime, goal_id: str, status: GoalStatus, note: str
) -> None:
    if script.add(
        at,
        cmd.RecordGoalProgress,
        actor=script.officer(at),
        goal_id=goal_id,
        status=str(status),
        note=note,
    ):
        script.goal_log.append((at, goal_id, status))


def _plan_reviews(script: CaseScript) -> None:
    """Each reassessment is followed by a plan review carrying the goals' statuses."""
    rng = script.rng
    for at, _, _ in script.assessments[1:]:
        review_at = _later(rng, at, 2, 10)
        status = {
            goal_id: s for t, goal_id, s in sorted(script.goal_log) if t < review_at
        }
        goals = [
            {**g, "status": str(status.get(g["goal_id"], GoalStatus.ACTIVE))}
            for g in script.goals
        ]
        script.add(
            review_at,
            cmd.RevisePlan,
            actor=script.officer(review_at),
            plan_type="review",
            prompted_by="reassessment",
            goals=goals,
            agreement="agreed",
            reason="Plan reviewed after the scheduled reassessment",
        )


def _contacts(script: CaseScript, *, correct: bool, duplicate: bool) -> None:
    """Face-to-face appointments at about the supervision level's monthly standard,
    each booked ahead and given its outcome; some missed, a few explained later."""
    rng = script.rng
    at = script.opened_at
    correct_from = rng.randint(1, 3) if correct else None
    duplicate_at = rng.randint(2, 4) if duplicate else None
    missed_violations = 0
    for n in range(1, 10_000):
        level = script.level_at(at)
        per_month = policies.CONTACT_STANDARD_PER_MONTH[level]
        if per_month == 0:  # administrative: a phone check-in every couple of months
            at = _later(rng, at, 45, 75)
            if not script.add(
                at, cmd.LogContact, **_logged(script, at, ContactType.PHONE)
            ):
                return
            continue
        gap = 30 / per_month
        at = _later(rng, at, max(1, round(gap * 0.5)), max(1, round(gap * 1.1)))
        kind = rng.choices(FACE_TO_FACE, CONTACT_MIX[level])[0]
        contact_id = script.new_id("k")
        booked = max(at - timedelta(days=rng.randint(2, 14)), script.opened_at)
        if not _appointment(script, booked, at, contact_id, kind):
            return
        if at >= script.routine_until - timedelta(hours=2):
            return  # booked for a day still to come: no outcome yet
        outcome = _outcome(rng, kind)
        held = at + timedelta(minutes=rng.randint(30, 120))
        _record_outcome(script, held, contact_id, outcome)
        final = outcome
        if outcome == ContactOutcome.FAILED_TO_ATTEND:  # the evidence window closes
            final = rng.choices(
                [
                    ContactOutcome.ACCEPTABLE_ABSENCE,
                    ContactOutcome.UNACCEPTABLE_ABSENCE,
                ],
                [45, 55],
            )[0]
            held = _later(rng, held, 3, 7)
            _record_outcome(
                script,
                held,
                contact_id,
                final,
                reason="Evidence of the reason received"
                if final == ContactOutcome.ACCEPTABLE_ABSENCE
                else "No evidence given within five working days",
            )
        if final == ContactOutcome.UNACCEPTABLE_ABSENCE and rng.random() < 0.7:
            missed_violations += 1
            _violation(
                script,
                _later(rng, held, 1, 2),
                ViolationKind.MISSED_REPORT,
                ViolationSeverity.LOW
                if missed_violations == 1
                else ViolationSeverity.MODERATE,
                f"Did not report for the appointment on {at:%d %b %Y}",
                source=("contact", contact_id),
            )
        if (
            correct_from is not None
            and n >= correct_from
            and final == ContactOutcome.ATTENDED
            and _correct_contact(script, held, contact_id, kind)
        ):
            correct_from = None
        if duplicate_at is not None and n >= duplicate_at:
            _duplicate_and_void(script, held, _logged(script, held, kind))
            duplicate_at = None


def _appointment(
    script: CaseScript,
    booked: datetime,
    at: datetime,
    contact_id: str,
    kind: ContactType,
) -> bool:
    place = {
        ContactType.OFFICE: "supervision_office",
        ContactType.HOME: "residence",
        ContactType.FIELD: "field",
        ContactType.EMPLOYMENT: "place_of_employment",
    }[kind]
    return script.add(
        booked,
        cmd.ScheduleContact,
        creates=contact_id,
        actor=script.officer(booked),
        contact_id=contact_id,
        contact_type=str(kind),
        method="in_person",
        place=place,
        scheduled_for=at,
        location=_contact_fields(script, at, kind, Attendance.ATTENDED)["location"],
    )


def _record_outcome(
    script: CaseScript,
    at: datetime,
    contact_id: str,
    outcome: ContactOutcome,
    reason: str | None = None,
) -> None:
    """An appointment's outcome (a second one changes it, with the reason)."""
    acceptable = outcome == ContactOutcome.ACCEPTABLE_ABSENCE
    script.add(
        at,
        cmd.RecordContactOutcome,
        creates=contact_id,
        actor=script.officer(at),
        contact_id=contact_id,
        outcome=str(outcome),
        absence_reason=script.rng.choice(ABSENCE_REASONS) if acceptable else None,
        reason=reason,
    )


# Reasons for the acceptable absences of the demo's people.
ABSENCE_REASONS = ("medical", "childcare_or_family", "work_or_employment")


def _outcome(rng: random.Random, kind: ContactType) -> ContactOutcome:
    if kind in (ContactType.HOME, ContactType.FIELD):
        return rng.choices(
            [ContactOutcome.ATTENDED, ContactOutcome.ATTEMPTED], [90, 10]
        )[0]
    return rng.choices(
        [
            ContactOutcome.ATTENDED,
            ContactOutcome.LATE,
            ContactOutcome.FAILED_TO_ATTEND,
            ContactOutcome.ACCEPTABLE_ABSENCE,
            ContactOutcome.UNACCEPTABLE_ABSENCE,
        ],
        [80, 6, 7, 4, 3],
    )[0]


def _logged(
    script: CaseScript, at: datetime, kind: ContactType, **extra: Any
) -> dict[str, Any]:
    """A contact logged after the fact (calls, collateral contacts, sessions)."""
    contact_id = script.new_id("k")
    return {
        "creates": contact_id,
        "contact_id": contact_id,
        **_contact_fields(script, at, kind, Attendance.ATTENDED),
        **extra,
    }


def _collateral_contacts(script: CaseScript) -> None:
    """Calls with employers, family and providers: about the level's collateral
    minimum a month, at least one every month or two."""
    rng = script.rng
    at = script.opened_at
    while True:
        standard = policies.CONTACT_STANDARDS[script.level_at(at)].collateral
        at = _later(
            rng, at, max(4, 30 // max(standard, 1) - 5), 30 // max(standard, 1) + 8
        )
        if not script.add(
            at,
            cmd.LogContact,
            **_logged(
                script,
                at,
                ContactType.COLLATERAL,
                collateral_party=rng.choice(COLLATERAL_PARTIES),
            ),
        ):
            return


def _phone_calls(script: CaseScript) -> None:
    """Calls and video check-ins between visits: one or two a month."""
    rng = script.rng
    at = script.opened_at
    while True:
        at = _later(rng, at, 14, 30)
        kind = rng.choices([ContactType.PHONE, ContactType.VIDEO], [4, 1])[0]
        if not script.add(at, cmd.LogContact, **_logged(script, at, kind)):
            return


def _treatment_sessions(
    script: CaseScript, outcomes: Sequence[ReferralOutcome]
) -> None:
    """Sessions at the provider while a referral is enrolled, every two to four weeks
    (the provider keeps the rest of its own record)."""
    rng = script.rng
    for outcome in outcomes:
        if outcome.enrolled_at is None:
            continue
        end = outcome.ended[1] if outcome.ended else script.routine_until
        at = outcome.enrolled_at
        while True:
            at = _later(rng, at, 14, 28)
            if at >= end:
                break
            if not script.add(
                at, cmd.LogContact, **_logged(script, at, ContactType.TREATMENT)
            ):
                return


def _incentives(script: CaseScript) -> None:
    """Praise and recognition for progress, about four for each sanction (DOMAIN.md
    §4.3); now and then a supervisor eases reporting."""
    rng = script.rng
    assert script.plan_at is not None
    at = script.plan_at
    while True:
        at = _later(rng, at, 20, 50)
        supervisor = rng.random() < 0.1
        actor = script.supervisor(at) if supervisor else script.officer(at)
        kind = (
            "reduced_reporting"
            if supervisor
            else rng.choice(["verbal_praise", "verbal_praise", "written_recognition"])
        )
        if not script.add(
            at,
            cmd.GrantIncentive,
            actor=actor,
            incentive_id=script.new_id("i"),
            incentive_type=kind,
            reason=rng.choice(INCENTIVE_REASONS),
        ):
            return


def _absconding(script: CaseScript) -> None:
    """Absconding: a warrant within days; arrested on it, or still wanted at closure.
    An arrest is followed by a hearing at which the court continues the order."""
    if script.absconding is None:
        return
    rng = script.rng
    gone, found = script.absconding
    script.routine_until = script.limit  # after absconding, only its consequences
    violation_id = script.new_id("v")
    script.add(
        gone,
        cmd.RecordViolation,
        actor=script.officer(gone),
        violation_id=violation_id,
        kind=str(ViolationKind.ABSCONDING),
        severity="serious",
        description="Not at the approved address; phone off; whereabouts unknown",
        condition_ids=["c2"],
    )
    _warrant(script, _later(rng, gone, 1, 4), violation_id, found)
    if found is None:
        return
    hearing_id = script.new_id("h")
    booked = _later(rng, found, 0, 2)
    heard = _later(rng, booked, 7, 21)
    script.add(
        booked,
        cmd.ScheduleHearing,
        actor=script.officer(booked),
        violation_id=violation_id,
        hearing_id=hearing_id,
        hearing_type="show_cause",
        scheduled_for=heard,
        body=script.court,
    )
    _court_action(
        script,
        heard,
        violation_id,
        CourtOutcome.CONTINUED,
        hearing_id=hearing_id,
        finding="admitted",
        custody_days=(heard - found).days,
    )


def _warrant(
    script: CaseScript, at: datetime, violation_id: str, executed: datetime | None
) -> None:
    warrant_id = script.new_id("w")
    if (
        script.add(
            at,
            cmd.IssueWarrant,
            actor=script.supervisor(at),
            violation_id=violation_id,
            warrant_id=warrant_id,
            issuing_authority=script.court,
        )
        and executed is not None
    ):
        script.add(
            max(executed, at + timedelta(hours=1)),
            cmd.ExecuteWarrant,
            actor=script.officer(executed),
            warrant_id=warrant_id,
        )


def _contact_fields(
    script: CaseScript, at: datetime, kind: ContactType, attendance: Attendance
) -> dict[str, Any]:
    rng = script.rng
    place = rng.choice(PLACES)
    locations = {
        ContactType.OFFICE: f"{script.unit(at).removeprefix('unit-').title()} office",
        ContactType.HOME: "Home address",
        ContactType.FIELD: place[0].upper() + place[1:],
        ContactType.EMPLOYMENT: "Workplace",
        ContactType.PHONE: "Telephone",
        ContactType.VIDEO: "Video call",
        ContactType.COLLATERAL: "Telephone",
        ContactType.TREATMENT: "Provider's premises",
    }
    summary = rng.choice(SUMMARIES[(kind, attendance)]).format(
        first=script.first_name, topic=rng.choice(TOPICS), place=place
    )
    return {
        "actor": script.officer(at),
        "contact_type": str(kind),
        "attendance": str(attendance),
        "location": locations[kind],
        "summary": summary,
    }


def _correct_contact(
    script: CaseScript, at: datetime, contact_id: str, kind: ContactType
) -> bool:
    """Fix a mis-keyed contact type; the correction takes the given effective time."""
    if kind == ContactType.HOME:
        changes, reason = {"contact_type": "field"}, "Met in the community, not at home"
    elif kind == ContactType.OFFICE:
        changes, reason = {"contact_type": "video"}, "Held by video; logged as office"
    else:
        return False
    return script.add(
        at,
        cmd.CorrectEntry,
        targets=contact_id,
        actor=script.officer(at),
        entry_id=contact_id,
        changes=changes,
        reason=reason,
    )


def _duplicate_and_void(
    script: CaseScript, at: datetime, fields: dict[str, Any]
) -> None:
    """A contact saved twice, and the second copy voided as entered in error."""
    dup_at = at + timedelta(minutes=script.rng.randint(2, 15))
    dup_id = fields["contact_id"]
    if script.add(dup_at, cmd.LogContact, **fields):
        script.add(
            dup_at,
            cmd.VoidEntry,
            targets=dup_id,
            actor=script.officer(dup_at),
            entry_id=dup_id,
            reason="Duplicate of the contact logged a few minutes earlier",
        )


def _drug_tests(script: CaseScript) -> None:
    """Testing every few weeks for anyone with a substance need; mostly negative."""
    rng = script.rng
    if script.substance is None:
        return
    at = script.assessments[0][0]
    while True:
        at = _later(rng, at, 14, 35)
        if script.substance == "alcohol":
            method, panel = "breath", ["alcohol"]
        else:
            method = rng.choices(
                ["urine_instant", "urine_lab", "oral_fluid"], [7, 2, 1]
            )[0]
            panel = list(DRUGS)
        result = rng.choices(
            ["negative", "dilute", "positive", "refused"], [85, 4, 10, 1]
        )[0]
        primary = script.substance if script.substance in panel else panel[0]
        results = {s: result if s == primary else "negative" for s in panel}
        if result == "refused":
            results = dict.fromkeys(panel, "refused")
        if not script.add(
            at,
            cmd.RecordDrugTest,
            actor=script.officer(at),
            test_id=script.new_id("t"),
            method=method,
            results=results,
        ):
            return
        if result in ("positive", "refused"):
            what = (
                f"Tested positive for {primary}"
                if result == "positive"
                else ("Refused to provide a sample")
            )
            _violation(
                script,
                at + timedelta(hours=rng.randint(1, 3)),
                ViolationKind.FAILED_TEST,
                ViolationSeverity.MODERATE,
                f"{what} ({method.replace('_', ' ')})",
            )


def _incidents(script: CaseScript) -> None:
    """The occasional other breach: a curfew or travel lapse, fees, a new arrest."""
    rng = script.rng
    assert script.plan_at is not None
    if rng.random() < 0.15:
        at = _between(rng, script.plan_at, script.routine_until)
        kind, text = rng.choice(
            [
                (ViolationKind.CURFEW, "Not at home during a curfew check at 23:10"),
                (ViolationKind.TRAVEL, "Left the county without permission"),
                (ViolationKind.FEES, "Three months behind on supervision fees"),
            ]
        )
        if at is not None:
            _violation(script, at, kind, ViolationSeverity.LOW, text)
    if script.revocation is None and rng.random() < 0.04:
        at = _between(rng, script.plan_at, script.routine_until)
        if at is not None:
            _violation(
                script,
                at,
                ViolationKind.NEW_OFFENCE,
                ViolationSeverity.SERIOUS,
                "Arrested and charged with shoplifting",
                response=Response.REPORT_TO_COURT,
            )


def _violation(
    script: CaseScript,
    at: datetime,
    kind: ViolationKind,
    severity: ViolationSeverity,
    description: str,
    *,
    response: Response | None = None,
    source: tuple[str, str] | None = None,
) -> None:
    """A violation, the supervisor's graduated response, and any court hearing."""
    rng = script.rng
    violation_id = script.new_id("v")
    if not script.add(
        at,
        cmd.RecordViolation,
        actor=script.officer(at),
        violation_id=violation_id,
        kind=str(kind),
        severity=str(severity),
        description=description,
        condition_ids=list(CONDITIONS_BROKEN.get(kind, ())),
        source=None if source is None else source[0],
        source_ref=None if source is None else source[1],
    ):
        return
    respond_at = _later(rng, at, 0, 5)
    chosen = response or _graduated_response(rng, severity, script.risk_at(respond_at))
    supervisor = script.supervisor(respond_at)
    if not script.add(
        respond_at,
        cmd.RespondToViolation,
        actor=supervisor,
        violation_id=violation_id,
        response_id=script.new_id("rsp"),
        response=str(chosen),
        authorised_by=supervisor.id,
    ):
        return
    if chosen in (Response.REPORT_TO_COURT, Response.REVOCATION_PETITION):
        outcome = rng.choices(
            [CourtOutcome.CONTINUED, CourtOutcome.MODIFIED, CourtOutcome.DISMISSED],
            [6, 3, 1],
        )[0]
        _court_action(script, _later(rng, respond_at, 14, 35), violation_id, outcome)


# The standard conditions a kind of violation breaks (``_conditions``: c1 report as
# directed, c2 notify changes, c3 no new offence).
CONDITIONS_BROKEN: dict[ViolationKind, tuple[str, ...]] = {
    ViolationKind.MISSED_REPORT: ("c1",),
    ViolationKind.ABSCONDING: ("c1", "c2"),
    ViolationKind.NEW_OFFENCE: ("c3",),
}


def _graduated_response(
    rng: random.Random, severity: ViolationSeverity, risk: RiskLevel | None
) -> Response:
    """A response the policy matrix allows, favouring the least restrictive."""
    order = list(Response)
    allowed = sorted(policies.allowed_responses(severity, risk), key=order.index)
    return rng.choices(allowed, range(len(allowed), 0, -1))[0]


def _court_action(
    script: CaseScript,
    at: datetime,
    violation_id: str,
    outcome: CourtOutcome,
    reason: str | None = None,
    **findings: Any,
) -> None:
    """The hearing's outcome; a modified order adds a condition the next day or so."""
    rng = script.rng
    if not script.add(
        at,
        cmd.RecordCourtAction,
        actor=script.officer(at),
        violation_id=violation_id,
        court_action_id=script.new_id("ca"),
        hearing=f"Violation hearing, {script.court}, courtroom {rng.randint(1, 9)}",
        outcome=str(outcome),
        reason=reason,
        **findings,
    ):
        return
    if outcome == CourtOutcome.MODIFIED:
        modified_at = _later(rng, at, 0, 2)
        n = script.new_id("m")
        script.add(
            modified_at,
            cmd.ModifyConditions,
            actor=script.officer(modified_at),
            added=[
                {
                    "condition_id": f"c-{n}",
                    "category": "special",
                    "text": rng.choice(COURT_CONDITIONS),
                }
            ],
            removed=[],
            court_order_ref=f"{script.case_number}/{n.upper()}",
        )


def _notes(script: CaseScript, *, void: bool) -> None:
    """A few case notes; with ``void``, one was written on the wrong case."""
    rng = script.rng
    for n in range(rng.randint(1, 3)):
        at = _between(rng, script.opened_at, script.routine_until)
        if at is None:
            return
        category = rng.choice(list(NOTES))
        note_id = script.new_id("n")
        added = script.add(
            at,
            cmd.AddNote,
            creates=note_id,
            actor=script.officer(at),
            note_id=note_id,
            text=rng.choice(NOTES[category]).format(first=script.first_name),
            category=str(category),
            sensitive=category == NoteCategory.RISK,
        )
        if added and void and n == 0:
            script.add(
                at,
                cmd.VoidEntry,
                targets=note_id,
                actor=script.officer(at),
                entry_id=note_id,
                reason="Entered on the wrong case",
            )


def _transfer(script: CaseScript) -> None:
    if len(script.officers) < 2:
        return
    (_, _, old_unit), (at, officer, unit) = script.officers[:2]
    reason = (
        f"Moved to the {unit.removeprefix('unit-')} district"
        if unit != old_unit
        else script.rng.choice(["Caseload rebalancing", "Officer on extended leave"])
    )
    script.add(
        at,
        cmd.AssignOfficer,
        actor=Actor(script.roster.supervisors[old_unit], "supervisor"),
        officer_id=officer,
        unit_id=unit,
        reason=reason,
    )


def _revocation(script: CaseScript) -> None:
    """A serious breach, a petition to revoke, and the hearing that ends the case."""
    if script.revocation is None:
        return
    rng = script.rng
    violation_at, petition_at, hearing_at = script.revocation
    script.routine_until = script.limit  # after the breach, only its consequences
    kind, description = rng.choice(
        [
            (ViolationKind.NEW_OFFENCE, "Arrested and charged with burglary"),
            (ViolationKind.ABSCONDING, "Whereabouts unknown; warrant requested"),
        ]
    )
    violation_id = script.new_id("v")
    supervisor = script.supervisor(petition_at)
    script.add(
        violation_at,
        cmd.RecordViolation,
        actor=script.officer(violation_at),
        violation_id=violation_id,
        kind=str(kind),
        severity="serious",
        description=description,
        condition_ids=list(CONDITIONS_BROKEN[kind]),
        source="police_report" if kind == ViolationKind.NEW_OFFENCE else None,
        source_ref=f"PR-{rng.randint(10000, 99999)}"
        if kind == ViolationKind.NEW_OFFENCE
        else None,
    )
    if kind == ViolationKind.ABSCONDING:  # found before the hearing
        _warrant(
            script,
            violation_at + timedelta(minutes=rng.randint(30, 120)),
            violation_id,
            _between(rng, petition_at, hearing_at) or hearing_at - timedelta(hours=2),
        )
    script.add(
        petition_at,
        cmd.RespondToViolation,
        actor=supervisor,
        violation_id=violation_id,
        response_id=script.new_id("rsp"),
        response=str(Response.REVOCATION_PETITION),
        authorised_by=supervisor.id,
    )
    _court_action(
        script,
        hearing_at,
        violation_id,
        CourtOutcome.REVOKED,
        reason="Probation revoked at the violation hearing",
        finding="found",
        custody_days=rng.choice([90, 180, 365]),
    )


# --- Time helpers: entries happen in office hours, never before what they follow.


def _on(rng: random.Random, day: date, start: int = 9, end: int = 17) -> datetime:
    """A time between ``start`` and ``end`` o'clock UTC on ``day``."""
    minutes = rng.randrange((end - start) * 60)
    return datetime.combine(day, time(start), UTC) + timedelta(minutes=minutes)


def _later(
    rng: random.Random, after: datetime, min_days: int, max_days: int
) -> datetime:
    """An office-hours time some days after ``after``, and never before it."""
    day = after.date() + timedelta(days=rng.randint(min_days, max_days))
    return max(_on(rng, day), after + timedelta(minutes=rng.randint(20, 90)))


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime | None:
    """An office-hours time on a day strictly between two times, if there is one."""
    days = (end.date() - start.date()).days
    if days < 2:
        return None
    return _on(rng, start.date() + timedelta(days=rng.randint(1, days - 1)))


def _latest(timeline: Sequence[Milestone], at: datetime) -> Milestone:
    """The last entry of a time-ordered list (first item a time) in force at ``at``."""
    current = timeline[0]
    for entry in timeline:
        if entry[0] <= at:
            current = entry
    return current
