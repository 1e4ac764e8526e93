"""The OpenAPI document, completed in one place after FastAPI builds it.

- Every error answer is declared with the one problem schema (``schemas.Problem``,
  RFC 9457) under ``application/problem+json``, which is what ``api/errors.py`` sends;
  FastAPI's own ``HTTPValidationError`` (never sent) is dropped.
- Request bodies are generated from the domain's commands (``api/bodies.py``), whose
  fields carry no prose: ``FIELD_DESCRIPTIONS`` describes each field name once, for
  every body and nested value that has it. A response field describes itself
  (``Field(description=...)``) and is never overwritten.
- ``tests/api/test_openapi_contract.py`` walks the result: a field or operation left
  undescribed, a list without the page envelope, an undeclared error, fails it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from casestream.api.schemas import Problem

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

# What each error status means on this API (declared on routes via
# ``errors.PROBLEM_RESPONSES``).
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed header or cursor (problem+json)",
    401: "No valid bearer token (problem+json)",
    403: "The role or its scope does not allow it; no case data is sent",
    404: "No such case, partner or version (to whom may know it)",
    409: "Conflicts with the record's state: stale If-Match, closed or sealed case, "
    "duplicate, already registered, integrity broken",
    422: "Invalid input: the problem names the field (`field`, `errors`)",
    503: "The store is unavailable or the agency's key is missing; retry",
}

# Request fields by name, described once (the commands in domain/commands.py).
FIELD_DESCRIPTIONS: dict[str, str] = {
    "effective_at": "When it happened or takes effect (RFC 3339 with a zone); "
    "default: when recorded. May be earlier than now (a late entry).",
    "reason": "Why; required for overrides, corrections, voids, transfers, closures.",
    "person": "The person supervised.",
    "name": "A name, as people write it.",
    "date_of_birth": "Date of birth (YYYY-MM-DD).",
    "identifiers": 'Identifiers by scheme, e.g. `{"crn": "X123456"}`.',
    "offences": "The offences the order is for.",
    "code": "The offence code.",
    "description": "A description, in words.",
    "court_order": "The court order supervised.",
    "court": "The court's name.",
    "case_number": "The court's case number.",
    "order_date": "The date of the order.",
    "supervision_type": "The kind of supervision.",
    "term_start": "First day of the term.",
    "term_end": "Last day of the term, if fixed.",
    "conditions": "Conditions of supervision.",
    "condition_id": "The condition's id, unique within the case.",
    "category": "Its category.",
    "text": "The text, in full.",
    "officer_id": "The officer's user id (registered in the directory: "
    "`POST /officers`).",
    "unit_id": "The unit's id (registered in the directory: `POST /units`).",
    "confirm_duplicate": "Open although a case with this CRN, or court and case "
    "number, is open (a reason is then required).",
    "added": "Conditions added.",
    "removed": "Ids of conditions removed.",
    "court_order_ref": "The court order that made the change.",
    "assessment_id": "The assessment's id, unique within the case.",
    "instrument": "The assessment instrument.",
    "instrument_version": "The instrument's version.",
    "purpose": "Why the assessment was done.",
    "scores": "Scores by domain or item.",
    "total": "The total score.",
    "risk_level": "The risk level the instrument gives.",
    "needs": "Criminogenic needs found, with their severity.",
    "need_area": "The need area.",
    "severity": "How severe.",
    "strengths": "Strengths noted.",
    "override_level": "A risk level departing from the score (a reason required).",
    "level": "The supervision level.",
    "plan_type": "The kind of plan.",
    "prompted_by": "What prompted this plan version.",
    "agreement": "Whether the person agreed to the plan.",
    "goals": "The plan's goals, each with measurable objectives.",
    "goal_id": "The goal's id, unique within the plan.",
    "statement": "The goal in words.",
    "objectives": "Measurable objectives towards the goal.",
    "objective_id": "The objective's id, unique within the goal.",
    "measure": "How progress is measured.",
    "target_date": "When it should be met.",
    "interventions": "What will be done towards it.",
    "status": "The new status.",
    "progress_note": "What progress was made.",
    "plan_version": "The plan version it is about.",
    "incentive_type": "The kind of incentive.",
    "referral_id": "The referral's id, unique within the case.",
    "partner_id": "The partner referred to (`GET /partners`).",
    "service_type": "The service asked for.",
    "need_addressed": "The need the referral addresses.",
    "contact_id": "The contact's id, unique within the case.",
    "contact_type": "How the contact was made.",
    "attendance": "Whether the person attended.",
    "location": "Where.",
    "summary": "What happened, in words.",
    "sensitive": "Sensitive: only officers, supervisors and admins read the text.",
    "victim_info": "Holds victim information: withheld like `sensitive`.",
    "complied": "Whether the person complied.",
    "test_id": "The drug test's id, unique within the case.",
    "method": "How the sample was taken.",
    "results": "Results by substance.",
    "violation_id": "The violation's id, unique within the case.",
    "kind": "The kind.",
    "response_id": "The response's id, unique within the case.",
    "response": "The response chosen.",
    "authorised_by": "Who authorised it.",
    "action_id": "The court action's id, unique within the case.",
    "hearing": "The hearing, in words.",
    "outcome": "The outcome.",
    "disposition": "The court's disposition.",
    "deciding_body": "Who decided.",
    "entry_id": "The entry corrected or voided.",
    "target_version": "The entry's version corrected (stale: 409).",
    "changes": "The corrected fields and their new values.",
    "action": "`correct` or `void`.",
    "note_id": "The note's id, unique within the case.",
    "mode": "`only`: just the named users see the case; `exclude`: all in scope "
    "but them.",
    "users": "The users named.",
    "services": "Services offered.",
    "contact": "How to reach the partner's intake.",
    "violation_ids": "The violations it answers.",
    "level_at_time": "The supervision level then.",
    "incentive_id": "The incentive's id, unique within the case.",
    "court_ordered": "Whether the court ordered the referral.",
    "court_action_id": "The court action's id, unique within the case.",
    "note": "A note on the progress, in words.",
    "countersigned_by": "Who countersigned (set by the countersignature).",
    "labels": "Labels that restrict who reads the entry's text: `sensitive`, "
    "`part2` (42 CFR Part 2), `victim`.",
    "place": "Where it happens (office, home, field, …); default by contact type.",
    "collateral_party": "Who a collateral contact is with (an employer, a relative).",
    "scheduled_for": "When it is booked for (RFC 3339 with a zone).",
    "enforceable": "Whether failing to keep it counts toward breach; default by type.",
    "absence_reason": "Why an absence was acceptable (a code); only for that outcome.",
    "evidence_due": "Last day for evidence of a failed attendance (YYYY-MM-DD).",
    "withdrawal_reason": "Why the referral was withdrawn (a code); withdrawals only.",
    "outcomes": "How far each desired outcome was met, by outcome.",
    "consent_id": "The consent's id on the case.",
    "desired_outcomes": "What the referral is meant to achieve.",
    "recipient_partner_id": "The partner the consent lets information go to.",
    "categories": "What the consent covers: `substance_use`, `mental_health`.",
    "expires_on": "The last day the consent is valid (YYYY-MM-DD).",
    "warrant_id": "The warrant's id, unique within the case.",
    "issuing_authority": "The court or board that issued it.",
    "hearing_id": "The hearing's id, unique within the case.",
    "hearing_type": "What kind of hearing.",
    "body": "The court or board that hears it.",
    "finding": "What the court found.",
    "custody_days": "Days of custody ordered, if any.",
    "term_extension_days": "Days the term was extended by, if any.",
    "session_id": "The session's id, unique within the referral.",
    "on": "The day of the session (YYYY-MM-DD).",
    "condition_ids": "The conditions the violation breaches (their ids).",
    "source": "Where it came to light: a contact, a test, a police or provider report.",
    "source_ref": "The entry id (contact or test) or report reference it came from.",
    "discovered_at": "When it was discovered (RFC 3339 with a zone).",
    "until": "Until when (RFC 3339 with a zone).",
    "url": "Where the events are POSTed (https in production).",
    "kinds": "The alert kinds sent; empty: every kind.",
    "secret": "The Standard Webhooks signing secret (`whsec_…`); generated if absent, "
    "shown once.",
}

# Parameters by name, described once (path parameters above all).
PARAMETER_DESCRIPTIONS: dict[str, str] = {
    "probationer_id": "The case (probationer) id.",
    "officer_id": "The officer's user id.",
    "partner_id": "The partner's id.",
    "goal_id": "The goal's id in the current plan.",
    "referral_id": "The referral's id on the case.",
    "violation_id": "The violation's id on the case.",
    "crn": "The person's CRN, exactly.",
    "from": "The window's first day (YYYY-MM-DD); default a year before `to`.",
    "to": "The window's last day (YYYY-MM-DD); default today.",
    "cohort": "Group cases by start month, risk level, unit or officer in charge.",
    "format": "`csv` for a CSV answer (or send `Accept: text/csv`).",
    "unit_id": "The unit's id.",
    "status": "Only alerts with this status.",
    "kind": "Only alerts of this kind.",
    "after": "The cursor from the previous page's `next`.",
    "limit": "How many items a page holds at most.",
    "alert_id": "The alert's id.",
    "webhook_id": "The webhook subscription's id.",
    "consent_id": "The consent's id on the case.",
    "contact_id": "The contact's id on the case.",
    "warrant_id": "The warrant's id on the case.",
}

# An example request per body, shown in /docs.
EXAMPLES: dict[str, dict[str, Any]] = {
    "OpenCase": {
        "person": {
            "name": "Dana Reyes",
            "date_of_birth": "1990-04-02",
            "identifiers": {"crn": "X123456"},
        },
        "offences": [{"code": "THEFT-1", "description": "Theft from a shop"}],
        "court_order": {
            "court": "Springfield Municipal",
            "case_number": "CR-2026-0042",
            "order_date": "2026-01-12",
        },
        "supervision_type": "probation",
        "term_start": "2026-01-12",
        "term_end": "2027-01-11",
        "conditions": [
            {"condition_id": "c1", "category": "standard", "text": "Report as directed"}
        ],
        "officer_id": "officer-ana",
        "unit_id": "unit-north",
        "effective_at": "2026-01-12T09:00:00.000Z",
    },
    "LogContact": {
        "contact_id": "k1",
        "contact_type": "home",
        "attendance": "attended",
        "location": "Home address",
        "summary": "Home visit; living conditions stable",
        "effective_at": "2026-11-20T16:30:00.000Z",
    },
    "RegisterUnit": {"unit_id": "unit-north", "name": "North district"},
    "RegisterOfficer": {
        "officer_id": "officer-ana",
        "name": "Ana Moreno",
        "unit_id": "unit-north",
    },
}


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first ask)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """The problem schema on every error, descriptions on every body field."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if "description" not in parameter:
                    described = PARAMETER_DESCRIPTIONS.get(parameter["name"])
                    if described is not None:
                        parameter["description"] = described
            for code, response in operation.get("responses", {}).items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
                    response["description"] = ERROR_DESCRIPTIONS.get(
                        int(code), response.get("description", "")
                    )
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            if "description" not in prop and field in FIELD_DESCRIPTIONS:
                prop["description"] = FIELD_DESCRIPTIONS[field]
        if name in EXAMPLES:
            schema["examples"] = [EXAMPLES[name]]
    return document
