"""The consumer feed's allow-list: every event type decided, nothing unlisted published."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, CanMutateAggregate
from tests.factories import full_lifecycle

import casestream.domain
from casestream.api.feed import event_data
from casestream.api.published import CODE, ENVELOPE, PUBLISHED, Shape, for_consumers
from casestream.application import CaseHistory
from casestream.domain.probationer import Probationer

# Field names that hold free text (or a person's name or birth date) somewhere in the
# domain: none of them may be published as a value.
FREE_TEXT = frozenset(
    {
        "summary",
        "text",
        "note",
        "reason",
        "location",
        "description",
        "statement",
        "measure",
        "interventions",
        "strengths",
        "hearing",
        "name",
        "date_of_birth",
        "contact",
        "court",
    }
)


def aggregates() -> Iterator[type[Aggregate]]:
    """Every aggregate class defined in a module of the domain package."""
    for module_info in pkgutil.iter_modules(casestream.domain.__path__):
        module = importlib.import_module(f"casestream.domain.{module_info.name}")
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Aggregate) and value.__module__ == module.__name__:
                yield value


def domain_event_classes() -> Iterator[type]:
    """Every event class an aggregate records: not the aggregate's base ``Event``,
    nor the library's default ``Created`` (casestream names its creation events)."""
    for aggregate in aggregates():
        for name, value in vars(aggregate).items():
            if (
                inspect.isclass(value)
                and issubclass(value, CanMutateAggregate)
                and name not in ("Event", "Created")
            ):
                yield value


def leaves(shape: Shape) -> Iterator[str]:
    for name, inner in shape.items():
        if inner is CODE:
            yield name
        else:
            yield from leaves(inner)


def test_the_walk_finds_every_aggregate_and_its_events():
    names = {c.__qualname__ for c in domain_event_classes()}

    assert {
        "Probationer.ContactLogged",
        "Partner.Registered",
        "Unit.UnitRegistered",
        "Officer.OfficerRegistered",
    } <= names
    # 27 + the directory (2) + referral sessions and consents (3) + appointments and
    # the road to court (6) + alert events (4) + the erasure (1)
    assert len(names) == 43


@pytest.mark.parametrize(
    "event_class", list(domain_event_classes()), ids=lambda c: c.__qualname__
)
def test_every_event_class_of_the_domain_has_a_decision(event_class: type):
    assert event_class in PUBLISHED, (
        f"{event_class.__qualname__} is not in casestream.api.published.PUBLISHED: "
        "list the fields a consumer may see (identifiers and codes, no free text)"
    )


@pytest.mark.parametrize(
    ("event_class", "shape"),
    list(PUBLISHED.items()),
    ids=[c.__qualname__ for c in PUBLISHED],
)
def test_a_listed_field_exists_and_is_never_free_text(event_class: type, shape: Shape):
    fields = {f.name for f in dataclasses.fields(event_class)}  # type: ignore[arg-type]

    assert set(shape) <= fields, f"no such field: {set(shape) - fields}"
    assert not set(leaves(shape)) & FREE_TEXT


@pytest.fixture
def history(app: CaseHistory) -> list[Any]:
    case_id = full_lifecycle(app)
    events, _, _ = app.case_events(case_id)
    return events


@pytest.mark.parametrize("store", ["memory"])
def test_a_field_added_to_an_event_is_not_published(history: list[Any]):
    contact = next(e for e in history if isinstance(e, Probationer.ContactLogged))
    opened = history[0]
    contact_data = event_data(contact) | {"mood": "Anxious about the hearing"}
    opened_data = event_data(opened)
    opened_data["person"] = opened_data["person"] | {"nickname": "Dee"}

    published = for_consumers(type(contact), contact_data)
    person = for_consumers(type(opened), opened_data)["person"]

    assert "mood" not in published
    assert published["contact_id"] == contact.contact_id
    assert person == {"identifiers": {"crn": "X123456"}}


@pytest.mark.parametrize("store", ["memory"])
def test_an_event_type_missing_from_the_table_publishes_only_its_envelope(
    history: list[Any],
):
    contact = next(e for e in history if isinstance(e, Probationer.ContactLogged))
    unlisted = type("SomethingNew", (), {})

    published = for_consumers(unlisted, event_data(contact))

    assert set(published) == set(ENVELOPE)
    assert published["actor_role"] == "officer"
    assert published["version"] == contact.originator_version


def text_values(value: Any, key: str | None = None) -> Iterator[str]:
    """Every string held under a free-text field name, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from text_values(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from text_values(v, key)
    elif isinstance(value, str) and key in FREE_TEXT:
        yield value


@pytest.mark.parametrize("store", ["memory"])
def test_no_free_text_of_a_whole_case_reaches_a_consumer(history: list[Any]):
    for event in history:
        data = event_data(event)

        published = json.dumps(for_consumers(type(event), data))

        for text in text_values(data):
            assert f'"{text}"' not in published, (type(event).__name__, text)
