"""Outcome figures a research unit can use: rates with their numerator and denominator,
over a window of days, per cohort. Every figure is defined in docs/outcomes.md; the
code below follows those definitions one function per figure.

They are computed from the caseload read model rather than kept as separate counters:
every figure then agrees with the caseload by construction, a correction or a void
changes them the moment it reaches the caseload, and a rebuild of one rebuilds both.
Each row carries the dated facts they count (``derived.research``).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from casestream.domain.derived import month_compliance
from casestream.domain.values import Disposition, ReferralStatus
from casestream.projections.caseload import CaseloadView, Doc, visible


class Cohort(StrEnum):
    """What the figures are grouped by (docs/outcomes.md, "Cohorts")."""

    START_MONTH = "start_month"
    RISK_LEVEL = "risk_level"
    UNIT = "unit"
    OFFICER = "officer"


# The figures, in the order they are reported (docs/outcomes.md, "Figures").
FIGURES = (
    "successful_completion",
    "revocation",
    "new_offence_violations",
    "time_to_first_violation",
    "drug_test_positivity",
    "contact_standard_compliance",
    "referral_completion",
    "incentive_to_sanction",
    "responses_within_policy",
)

# The columns of a CSV answer, one row per cohort group and figure.
COLUMNS = (
    "from",
    "to",
    "cohort",
    "group",
    "figure",
    "numerator",
    "denominator",
    "rate",
    "median_days",
)


@dataclass(frozen=True)
class Window:
    """The days counted, both included."""

    start: date
    end: date

    def holds(self, on: str) -> bool:
        return self.start.isoformat() <= on <= self.end.isoformat()


@dataclass
class Tally:
    numerator: int = 0
    denominator: int = 0
    days: list[int] = field(default_factory=list)

    def add(self, counted: bool) -> None:
        self.denominator += 1
        self.numerator += counted


def in_charge(doc: Doc, on: str) -> tuple[str, str]:
    """The officer and unit in charge of the case on an ISO day (the first assignment
    if the day is before it)."""
    assignments = doc.get("research", {}).get("assignments") or [
        [doc["opened_on"], doc["officer_id"], doc["unit_id"]]
    ]
    officer, unit = assignments[0][1], assignments[0][2]
    for since, who, where in assignments:
        if since <= on:
            officer, unit = who, where
    return officer, unit


def group_of(doc: Doc, cohort: Cohort | None, on: str) -> str:
    """The cohort group a case's fact counts in, on the day it counts."""
    if cohort is None:
        return "all"
    if cohort == Cohort.START_MONTH:
        return str(doc["opened_on"][:7])
    if cohort == Cohort.RISK_LEVEL:
        return str(doc.get("research", {}).get("intake_risk") or "unassessed")
    officer, unit = in_charge(doc, on)
    return officer if cohort == Cohort.OFFICER else unit


def supervised_in(doc: Doc, window: Window) -> bool:
    """Whether the case was under supervision on any day of the window."""
    closure = doc["closure"]
    closed_before = closure is not None and closure["on"] < window.start.isoformat()
    return doc["opened_on"] <= window.end.isoformat() and not closed_before


def months_of(window: Window) -> list[date]:
    """The calendar months wholly inside the window."""
    months: list[date] = []
    first = window.start.replace(day=1)
    if first < window.start:
        first = (first + timedelta(days=32)).replace(day=1)
    while True:
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        if last > window.end:
            return months
        months.append(first)
        first = last + timedelta(days=1)


Count = Callable[[Doc, Window, Cohort | None, dict[str, dict[str, Tally]]], None]


def _exits(
    doc: Doc, window: Window, cohort: Cohort | None, t: dict[str, dict[str, Tally]]
) -> None:
    """Successful completion and revocation: shares of the exits in the window that
    were not neutral (transfers and deaths say nothing of success)."""
    closure = doc["closure"]
    if closure is None or not window.holds(closure["on"]):
        return
    if closure["disposition"] == Disposition.NEUTRAL:
        return
    group = group_of(doc, cohort, closure["on"])
    t[group]["successful_completion"].add(
        closure["disposition"] == Disposition.SUCCESSFUL
    )
    t[group]["revocation"].add(closure["outcome"] == "revoked")


def _violations(
    doc: Doc, window: Window, cohort: Cohort | None, t: dict[str, dict[str, Tally]]
) -> None:
    """New-offence violations: cases supervised in the window with one dated in it.
    Time to first violation: of the cases that started in the window, those with a
    violation in it, and the days from start to the first."""
    facts = doc.get("research", {})
    dated = facts.get("violations", [])
    if supervised_in(doc, window):
        first_day = max(doc["opened_on"], window.start.isoformat())
        group = group_of(doc, cohort, first_day)
        t[group]["new_offence_violations"].add(
            any(window.holds(on) and kind == "new_law" for on, kind in dated)
        )
    if window.holds(doc["opened_on"]):
        group = group_of(doc, cohort, doc["opened_on"])
        first = min((on for on, _ in dated if window.holds(on)), default=None)
        tally = t[group]["time_to_first_violation"]
        tally.add(first is not None)
        if first is not None:
            started = date.fromisoformat(doc["opened_on"])
            tally.days.append((date.fromisoformat(first) - started).days)


def _dated(figure: str, key: str, counted: Callable[[Any], bool]) -> Count:
    """A figure over dated facts: each fact in the window counts in the denominator,
    those ``counted`` in the numerator, attributed to the day it happened."""

    def count(
        doc: Doc, window: Window, cohort: Cohort | None, t: dict[str, dict[str, Tally]]
    ) -> None:
        for fact in doc.get("research", {}).get(key, []):
            on = fact[0] if isinstance(fact, list) else fact
            if window.holds(on):
                t[group_of(doc, cohort, on)][figure].add(counted(fact))

    return count


def _contact_months(
    doc: Doc, window: Window, cohort: Cohort | None, t: dict[str, dict[str, Tally]]
) -> None:
    """Contact-standard compliance: calendar months wholly in the window, during all
    of which the case was open and its level required contacts; met or not."""
    closure = doc["closure"]
    for month in months_of(window):
        last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        if doc["opened_on"] >= month.isoformat():
            continue
        if closure is not None and closure["on"] <= last.isoformat():
            continue
        judged = month_compliance(doc, month)
        if judged["required"]:
            t[group_of(doc, cohort, month.isoformat())][
                "contact_standard_compliance"
            ].add(judged["met"])


def _incentives(
    doc: Doc, window: Window, cohort: Cohort | None, t: dict[str, dict[str, Tally]]
) -> None:
    """Incentive-to-sanction ratio: incentives (numerator) per sanction (denominator)
    in the window; not a share, so the rate may exceed one (aim: about four)."""
    facts = doc.get("research", {})
    for on in facts.get("incentives", []):
        if window.holds(on):
            t[group_of(doc, cohort, on)]["incentive_to_sanction"].numerator += 1
    for on, _ in facts.get("responses", []):
        if window.holds(on):
            t[group_of(doc, cohort, on)]["incentive_to_sanction"].denominator += 1


COUNTS: tuple[Count, ...] = (
    _exits,
    _violations,
    _dated("drug_test_positivity", "drug_tests", lambda f: bool(f[1])),
    _contact_months,
    _dated(
        "referral_completion",
        "referrals_ended",
        lambda f: f[1] == ReferralStatus.COMPLETED,
    ),
    _incentives,
    _dated("responses_within_policy", "responses", lambda f: bool(f[1])),
)


def figures(
    docs: Iterable[Doc], window: Window, cohort: Cohort | None = None
) -> list[dict[str, Any]]:
    """One row per cohort group and figure: numerator, denominator and rate."""
    tallies: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for doc in docs:
        for count in COUNTS:
            count(doc, window, cohort, tallies)
    rows = []
    for group in sorted(tallies):
        for figure in FIGURES:
            tally = tallies[group][figure]
            rows.append(
                {
                    "from": window.start.isoformat(),
                    "to": window.end.isoformat(),
                    "cohort": None if cohort is None else cohort.value,
                    "group": group,
                    "figure": figure,
                    "numerator": tally.numerator,
                    "denominator": tally.denominator,
                    "rate": round(tally.numerator / tally.denominator, 4)
                    if tally.denominator
                    else None,
                    "median_days": statistics.median(tally.days)
                    if tally.days
                    else None,
                }
            )
    return rows


def outcomes(
    view: CaseloadView,
    window: Window,
    *,
    cohort: Cohort | None = None,
    unit_id: str | None = None,
) -> list[dict[str, Any]]:
    """The figures over the caseload (one unit's cases only, if given)."""
    return figures(visible(view.select_docs(None, unit_id)), window, cohort)


def as_csv(rows: Iterable[dict[str, Any]]) -> str:
    """The rows as CSV, a header first (blank for a missing rate or median)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return out.getvalue()
