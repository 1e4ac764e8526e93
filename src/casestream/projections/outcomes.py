"""Outcome measures agencies track, per unit and per officer, from the caseload rows.

They are computed from the caseload read model rather than kept as separate counters:
every figure then agrees with the caseload by construction, a correction or a void
changes them the moment it reaches the caseload, and a rebuild of one rebuilds both.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from casestream.domain.derived import level_on
from casestream.domain.policies import CONTACT_STANDARD_PER_MONTH
from casestream.domain.values import ReferralStatus
from casestream.projections.caseload import CaseloadView, Doc, visible


def previous_month(today: date) -> tuple[str, str]:
    """First and last day of the last complete calendar month, as ISO dates."""
    first_this = today.replace(day=1)
    last_prev = date.fromordinal(first_this.toordinal() - 1)
    return last_prev.replace(day=1).isoformat(), last_prev.isoformat()


def met_standard(doc: Doc, month: tuple[str, str], standard: int) -> bool:
    counting = [on for on in doc["counting_contacts"] if month[0] <= on <= month[1]]
    return len(counting) >= standard


def standard_in_month(doc: Doc, month: tuple[str, str]) -> int:
    """The contacts a case owed in a month: by the level in force when it began (the
    month's contacts are planned from it; a change mid-month counts from the next),
    not by today's level."""
    level = level_on(
        doc.get("supervision_levels", []), month[0], doc["supervision_level"]
    )
    return CONTACT_STANDARD_PER_MONTH[level]


def incentive_ratio(incentives: int, sanctions: int) -> dict[str, Any]:
    """Incentives per sanction (DOMAIN.md §4.3: aim for about four to one)."""
    return {
        "incentives": incentives,
        "sanctions": sanctions,
        "ratio": round(incentives / sanctions, 3) if sanctions else None,
    }


def measures(docs: Iterable[Doc], today: date) -> dict[str, Any]:
    """The outcome figures of one group of cases."""
    month = previous_month(today)
    risk: Counter[str] = Counter()
    violations: Counter[str] = Counter()
    responses: Counter[str] = Counter()
    incentives: Counter[str] = Counter()
    closures: Counter[str] = Counter()
    referrals: dict[str, Counter[str]] = defaultdict(Counter)
    by_service: dict[str, Counter[str]] = defaultdict(Counter)
    assessed_for_standard = met = 0
    for doc in docs:
        if doc["status"] == "active":
            risk[doc["risk_level"] or "unassessed"] += 1
            standard = standard_in_month(doc, month)
            opened_before_month = doc["opened_on"] < month[0]
            if standard and opened_before_month:
                assessed_for_standard += 1
                met += met_standard(doc, month, standard)
        elif doc["closure"]:
            closures[doc["closure"]["outcome"]] += 1
        violations.update(doc["violations_by_kind"])
        responses.update(doc["responses"])
        incentives.update(doc.get("incentives_by_type", {}))
        for _, partner_id, service_type, ended in doc["ended_referrals"]:
            referrals[partner_id][ended] += 1
            by_service[service_type][ended] += 1
    return {
        "active_by_risk": dict(sorted(risk.items())),
        "contact_standard": {
            "month": month[0][:7],
            "cases": assessed_for_standard,
            "met": met,
            "rate": round(met / assessed_for_standard, 3)
            if assessed_for_standard
            else None,
        },
        "violations_by_kind": dict(sorted(violations.items())),
        "responses": dict(sorted(responses.items())),
        "incentives": dict(sorted(incentives.items())),
        "incentive_to_sanction": incentive_ratio(
            sum(incentives.values()), sum(responses.values())
        ),
        "referral_completion_by_partner": _rates(referrals),
        "referral_completion_by_service": _rates(by_service),
        "closures_by_outcome": dict(sorted(closures.items())),
    }


def _rates(groups: dict[str, Counter[str]]) -> dict[str, dict[str, Any]]:
    return {
        key: {
            "ended": sum(c.values()),
            "completed": c[ReferralStatus.COMPLETED],
            "rate": round(c[ReferralStatus.COMPLETED] / sum(c.values()), 3),
        }
        for key, c in sorted(groups.items())
    }


def outcomes(
    view: CaseloadView, *, unit_id: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Agency, unit and officer figures (one unit's only, if given)."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    docs = visible(view.select_docs(None, unit_id))
    units: dict[str, list[Doc]] = defaultdict(list)
    officers: dict[str, list[Doc]] = defaultdict(list)
    for doc in docs:
        units[doc["unit_id"]].append(doc)
        officers[doc["officer_id"]].append(doc)
    return {
        "as_of": today.isoformat(),
        "total": measures(docs, today),
        "units": {u: measures(d, today) for u, d in sorted(units.items())},
        "officers": {o: measures(d, today) for o, d in sorted(officers.items())},
    }
