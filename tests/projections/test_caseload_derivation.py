"""The caseload row and the case itself give the same answers, on every store.

Both come from ``domain/derived.py``: the row from the events the projection folded,
the aggregate from its own replay. A random history of commands on a case must leave
the two equal, folded in batches (catch-up, rebuild) or one event at a time (live).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st
from tests.factories import (
    OFFICER,
    SUPERVISOR,
    assess,
    days_ago,
    open_case,
    register_partner as partner_of,
)

from casestream.application import CaseHistory
from casestream.domain import commands as cmd, derived
from casestream.domain.errors import CaseError
from casestream.domain.values import (
    Attendance,
    ContactType,
    CourtOutcome,
    EntryKind,
    ReferralStatus,
    Response,
    RiskLevel,
    SupervisionLevel,
    ViolationSeverity,
)
from casestream.persistence.store import Store
from casestream.projections.caseload import CaseloadView, present
from casestream.projections.outcomes import Window, outcomes
from casestream.projections.runner import LiveProjections, catch_up, open_view

SERVICES = ("substance_use_treatment", "counseling", "housing")
NOW = datetime.now(UTC)


@pytest.fixture
def live(storage: Store, app: CaseHistory) -> Iterator[LiveProjections]:
    projections = LiveProjections(storage, check_every=0.2, names=("caseload",))
    yield projections
    projections.stop()


def violation_with_two_responses(app: CaseHistory) -> UUID:
    case_id = open_case(app)
    app.execute(
        case_id,
        cmd.RecordViolation(
            violation_id="v1",
            kind="missed_report",
            severity="low",
            description="Missed the weekly report",
            effective_at=days_ago(30),
        ),
        actor=OFFICER,
    )
    for response_id, response in (
        ("rsp1", "verbal_warning"),
        ("rsp2", "written_warning"),
    ):
        app.execute(
            case_id,
            cmd.RespondToViolation(
                violation_id="v1",
                response_id=response_id,
                response=response,
                authorised_by="officer-ana",
                effective_at=days_ago(29),
            ),
            actor=OFFICER,
        )
    return case_id


def void(app: CaseHistory, case_id: UUID, entry_id: str) -> None:
    app.execute(
        case_id,
        cmd.VoidEntry(
            entry_id=entry_id,
            target_version=app.get_case(case_id).entries[entry_id]["last_version"],
            reason="Entered in error",
        ),
        actor=SUPERVISOR,
    )


def caught_up(app: CaseHistory, storage: Store) -> CaseloadView:
    view = open_view(storage, "caseload", 1)
    assert isinstance(view, CaseloadView)
    catch_up(app, view)
    return view


def test_voiding_one_response_leaves_the_other_response_counted(
    app: CaseHistory, storage: Store
):
    case_id = violation_with_two_responses(app)

    void(app, case_id, "rsp1")

    today = NOW.date()
    window = Window(today - timedelta(days=60), today)
    [counted] = [
        r
        for r in outcomes(caught_up(app, storage), window)
        if r["figure"] == "responses_within_policy"
    ]
    assert counted["denominator"] == 1  # the written warning only


def test_a_violation_whose_only_response_was_voided_is_open_in_the_row_and_the_case(
    app: CaseHistory, storage: Store
):
    case_id = violation_with_two_responses(app)

    void(app, case_id, "rsp1")
    void(app, case_id, "rsp2")

    [doc] = caught_up(app, storage).select_docs()
    case = app.get_case(case_id)
    assert [v["id"] for v in case.open_violations()] == ["v1"]
    assert present(doc, NOW)["open_violations"] == ["v1"]


# A random history: each step is an operation and small numbers that pick its
# arguments (which entry, which value, how many days ago). A step the case refuses
# (a closed case, a void of a voided entry, a time before what it concerns…) is
# passed over, as a user's refused command would be.

Step = tuple[str, int, int, int]
OPERATIONS = (
    "contact",
    "contact",
    "drug_test",
    "violation",
    "respond",
    "court",
    "referral",
    "referral_status",
    "assess",
    "plan",
    "goal",
    "level",
    "correct",
    "void",
    "void",
    "transfer",
    "close",
    "reopen",
)
steps = st.lists(
    st.tuples(
        st.sampled_from(OPERATIONS),
        st.integers(0, 20),
        st.integers(0, 20),
        st.integers(0, 100),
    ),
    max_size=25,
)


def later(at: datetime, days: int) -> datetime | None:
    """A follow-up's time: often now, so that it is not before what it concerns."""
    return None if days % 3 else at


class NothingToPick(Exception):
    """Raised when a step names an entry of a kind the case has none of yet."""


def pick(options: Any, n: int) -> Any:
    values = list(options)
    if not values:
        raise NothingToPick
    return values[n % len(values)]


@dataclass
class History:
    """Plays steps on one case through the application, as users would."""

    app: CaseHistory
    partner: str
    case_id: UUID = field(init=False)
    ids: dict[str, EntryKind] = field(default_factory=dict)
    adding: tuple[str, EntryKind] | None = None
    count: int = 0

    def __post_init__(self) -> None:
        # Something to respond to, refer on and correct from the first step.
        self.case_id = open_case(self.app)
        for seed in ("violation", "referral", "contact"):
            self.play((seed, 0, 0, 100))

    def entries(self, kind: EntryKind | None = None) -> list[str]:
        return [i for i, k in self.ids.items() if kind is None or k == kind]

    def new_id(self, kind: EntryKind) -> str:
        """An id for the entry the step adds, kept if the case accepts the step."""
        self.adding = (f"{kind}-{self.count}", kind)
        self.count += 1
        return self.adding[0]

    def play(self, step: Step) -> None:
        operation, a, b, days = step
        run: Callable[[], object] = getattr(self, operation)(a, b, days_ago(days))
        self.adding = None
        with contextlib.suppress(CaseError, NothingToPick):
            run()
            if self.adding is not None:
                self.ids[self.adding[0]] = self.adding[1]

    def contact(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.LogContact(
                    contact_id=self.new_id(EntryKind.CONTACT),
                    contact_type=pick(ContactType, a),
                    attendance=pick(Attendance, b),
                    location="Office",
                    summary="Reported",
                    effective_at=at,
                ),
                actor=OFFICER,
            ).version
        )

    def drug_test(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.RecordDrugTest(
                    test_id=self.new_id(EntryKind.DRUG_TEST),
                    method="urine_instant",
                    results={"opiates": pick(("negative", "positive", "dilute"), a)},
                    effective_at=at,
                ),
                actor=OFFICER,
            ).version
        )

    def violation(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.RecordViolation(
                    violation_id=self.new_id(EntryKind.VIOLATION),
                    kind=pick(("missed_report", "failed_test", "curfew"), a),
                    severity=pick(ViolationSeverity, b),
                    description="Reported by the provider",
                    effective_at=at,
                ),
                actor=OFFICER,
            ).version
        )

    def respond(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.RespondToViolation(
                    violation_id=pick(self.entries(EntryKind.VIOLATION), a),
                    response_id=self.new_id(EntryKind.RESPONSE),
                    response=pick(Response, b),
                    authorised_by="supervisor-bo",
                    reason="Proportionate to the behaviour",
                    effective_at=later(at, days=b),
                ),
                actor=SUPERVISOR,
            ).version
        )

    def court(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.RecordCourtAction(
                    violation_id=pick(self.entries(EntryKind.VIOLATION), a),
                    court_action_id=self.new_id(EntryKind.COURT_ACTION),
                    hearing="Review hearing",
                    outcome=pick(CourtOutcome, b),
                    effective_at=later(at, days=b),
                ),
                actor=OFFICER,
            ).version
        )

    def referral(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.MakeReferral(
                    referral_id=self.new_id(EntryKind.REFERRAL),
                    partner_id=self.partner,
                    service_type=pick(SERVICES, a),
                    need_addressed="drug_use",
                    effective_at=at,
                ),
                actor=OFFICER,
            ).version
        )

    def referral_status(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.ChangeReferralStatus(
                    referral_id=pick(self.entries(EntryKind.REFERRAL), a),
                    status=pick(ReferralStatus, b),
                    reason="Provider update",
                    effective_at=later(at, days=b),
                ),
                actor=OFFICER,
            ).version
        )

    def assess(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: assess(
            self.app,
            self.case_id,
            pick(RiskLevel, a),
            assessment_id=self.new_id(EntryKind.ASSESSMENT),
            override_level=pick(RiskLevel, b) if b % 4 == 0 else None,
            reason="Professional judgement",
            effective_at=at,
        )

    def plan(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        goals = [
            {
                "goal_id": f"g{n}",
                "need_area": "drug_use",
                "statement": "Stay drug free",
                "status": pick(("active", "future", "achieved"), a + n),
            }
            for n in range(1 + b % 3)
        ]
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.RevisePlan(
                    plan_type="review",
                    prompted_by="progress",
                    agreement="agreed",
                    goals=goals,
                    effective_at=at,
                ),
                actor=OFFICER,
            ).version
        )

    def goal(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.RecordGoalProgress(
                    goal_id=f"g{a % 3}",
                    status=pick(("active", "achieved", "removed"), b),
                    note="Progress reviewed",
                    effective_at=at,
                ),
                actor=OFFICER,
            ).version
        )

    def level(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.OverrideSupervisionLevel(
                    level=pick(SupervisionLevel, a),
                    reason="Supervisor's decision",
                    effective_at=at,
                ),
                actor=SUPERVISOR,
            ).version
        )

    def correct(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        changes_for: dict[EntryKind, dict[str, Any]] = {
            EntryKind.CONTACT: {"attendance": pick(Attendance, b)},
            EntryKind.VIOLATION: {"severity": pick(ViolationSeverity, b)},
            EntryKind.RESPONSE: {"response": pick(Response, b)},
            EntryKind.ASSESSMENT: {"risk_level": pick(RiskLevel, b)},
            EntryKind.REFERRAL: {"service_type": pick(SERVICES, b)},
            EntryKind.DRUG_TEST: {"results": {"opiates": "positive"}},
            EntryKind.COURT_ACTION: {"outcome": pick(CourtOutcome, b)},
        }

        def run() -> object:
            entry_id = pick(self.entries(), a)
            if b % 2 and self.ids[entry_id] == EntryKind.CONTACT:
                changes = {"contact_type": pick(ContactType, b)}
            else:
                changes = changes_for[self.ids[entry_id]]
            return self.app.execute(
                self.case_id,
                cmd.CorrectEntry(
                    entry_id=entry_id,
                    target_version=self.version_of(entry_id),
                    changes=changes,
                    reason="Corrected from the source record",
                ),
                actor=OFFICER,
            ).version

        return run

    def void(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        def run() -> object:
            entry_id = pick(self.entries(), a)
            return self.app.execute(
                self.case_id,
                cmd.VoidEntry(
                    entry_id=entry_id,
                    target_version=self.version_of(entry_id),
                    reason="Entered in error",
                ),
                actor=SUPERVISOR,
            ).version

        return run

    def transfer(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.AssignOfficer(
                    officer_id=pick(("officer-ana", "officer-cy", "officer-di"), a),
                    unit_id=pick(("unit-north", "unit-south"), b),
                    reason="Caseload rebalanced",
                    effective_at=at,
                ),
                actor=SUPERVISOR,
            ).version
        )

    def close(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.CloseCase(
                    outcome=pick(("completed", "revoked", "absconded"), a),
                    reason="Order ended",
                    effective_at=at,
                ),
                actor=SUPERVISOR,
            ).version
        )

    def reopen(self, a: int, b: int, at: datetime) -> Callable[[], object]:
        return lambda: (
            self.app.execute(
                self.case_id,
                cmd.ReopenCase(
                    reason="Closed in error",
                    court_order_ref="CR-2026-0042",
                    effective_at=at,
                ),
                actor=SUPERVISOR,
            ).version
        )

    def version_of(self, entry_id: str) -> int:
        version: int = self.app.get_case(self.case_id).entries[entry_id]["last_version"]
        return version


def assert_row_is_what_the_case_says(
    app: CaseHistory, view: CaseloadView, case_id: UUID
) -> None:
    [doc] = view.load_docs([str(case_id)]).values()
    case = app.get_case(case_id)
    stored = {k: v for k, v in doc.items() if k != "state"}
    assert stored == derived.facts(case)
    shown = {
        k: v
        for k, v in present(doc, NOW).items()
        if k not in ("poisoned_versions", "restriction")
    }
    assert shown == case.caseload_row(NOW)
    assert doc["open_violations"] == sorted(v["id"] for v in case.open_violations())


def test_every_caseload_row_is_what_its_case_says_after_any_history(
    store: str, app: CaseHistory, storage: Store, live: LiveProjections
):
    partner = str(partner_of(app, *SERVICES))
    batched = open_view(storage, "caseload", 2)  # folded in batches, as a rebuild
    assert isinstance(batched, CaseloadView)

    @hypothesis_settings(max_examples=25 if store == "postgres" else 50, deadline=None)
    @given(steps)
    def histories(history: list[Step]) -> None:
        played = History(app, partner)
        for step in history:
            played.play(step)

        catch_up(app, batched, batch_size=7)
        live.wait(timeout=30)
        for view in (batched, live.view("caseload")):
            assert_row_is_what_the_case_says(app, view, played.case_id)

    histories()
