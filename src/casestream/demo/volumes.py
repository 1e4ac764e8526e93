"""What a caseload amounts to per person-month, set against DOMAIN.md §7.2.

``casestream demo`` prints it after loading, and a test holds the demo inside the
ranges practice reports: the demo is only useful if it looks like a real caseload.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from casestream.domain.probationer import Probationer
from casestream.domain.values import EntryKind

DAYS_PER_MONTH = 365.25 / 12

# Per active person and month (DOMAIN.md §7.2): 10-20 domain events; 5-7 contact
# records (face to face ~2.7 for a typical level mix, collateral ~1, phone 1-2, drug
# tests for ~40% of cases, check-ins).
RANGES: dict[str, tuple[float, float]] = {
    "events": (10.0, 20.0),
    "contact_records": (5.0, 7.0),
}


def person_months(case: Probationer, now: datetime) -> float:
    """Months under supervision: from opening to closure, or to ``now``."""
    end = case.closure["effective_at"] if case.closure else now
    return max((end - case.opened_at).total_seconds() / 86_400, 1.0) / DAYS_PER_MONTH


def volumes(cases: Iterable[Probationer], now: datetime) -> dict[str, Any]:
    """Per person-month volumes and mixes, and closures per person-year by outcome."""
    months = 0.0
    count: Counter[str] = Counter()
    closures: Counter[str] = Counter()
    people = 0
    for case in cases:
        people += 1
        months += person_months(case, now)
        count["events"] += case.version
        entries = list(case.entries.values())
        kinds = Counter(str(e["entry_kind"]) for e in entries)
        contacts = [e for e in entries if e["entry_kind"] == EntryKind.CONTACT]
        count["contacts"] += len(contacts)
        count["contact_records"] += len(contacts) + kinds[EntryKind.DRUG_TEST]
        count["drug_tests"] += kinds[EntryKind.DRUG_TEST]
        count["appointments"] += sum(1 for c in contacts if c.get("scheduled_for"))
        count["collateral"] += sum(
            1 for c in contacts if c["contact_type"] == "collateral"
        )
        count["treatment_sessions"] += sum(
            1 for c in contacts if c["contact_type"] == "treatment"
        )
        count["outcome_changes"] += sum(
            max(len(c.get("outcomes", [])) - 1, 0) for c in contacts
        )
        count["violations"] += kinds[EntryKind.VIOLATION]
        count["incentives"] += kinds[EntryKind.INCENTIVE]
        count["sanctions"] += kinds[EntryKind.RESPONSE]
        count["warrants"] += kinds[EntryKind.WARRANT]
        count["assessment_overrides"] += sum(
            1
            for e in entries
            if e["entry_kind"] == EntryKind.ASSESSMENT and e.get("override_level")
        )
        count["referral_withdrawals"] += sum(
            1
            for e in entries
            if e["entry_kind"] == EntryKind.REFERRAL and e["status"] == "withdrawn"
        )
        if case.closure:
            closures[str(case.closure["outcome"])] += 1
    years = months / 12
    return {
        "people": people,
        "person_months": round(months, 1),
        "per_person_month": {
            k: round(v / months, 2) if months else 0.0 for k, v in sorted(count.items())
        },
        "closures_per_person_year": {
            k: round(v / years, 3) if years else 0.0
            for k, v in sorted(closures.items())
        },
        "closed_share": round(sum(closures.values()) / people, 3) if people else 0.0,
    }


def outside_ranges(found: dict[str, Any]) -> list[str]:
    """The §7.2 volumes the figures fall outside of (empty: a believable caseload)."""
    per = found["per_person_month"]
    return [
        f"{name} {per.get(name, 0)} not in {low}-{high}"
        for name, (low, high) in RANGES.items()
        if not low <= per.get(name, 0) <= high
    ]
