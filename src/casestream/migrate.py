"""``casestream migrate``: create everything the service needs, as the owner role.

In production the service runs as a role that may not create tables
(``CASESTREAM_CREATE_TABLES=false``), so every table, index, trigger and function is
made here, once, by the owner — through the same ``create_table`` code each part uses
when it creates its tables itself (development, tests). Running it again changes
nothing: every statement is ``IF NOT EXISTS`` or ``OR REPLACE``.
"""

from __future__ import annotations

from casestream.access_log import TABLE as ACCESS_LOG
from casestream.application import CaseHistory
from casestream.persistence.postgres import append_only_tables, seal_append_only
from casestream.persistence.store import open_store
from casestream.projections.runner import READ_MODELS, close_view, open_view, table_name
from casestream.settings import Settings


def events_table() -> str:
    """The events table the library names after the application."""
    return f"{CaseHistory.name.lower()}_events"


def migrate(settings: Settings) -> list[str]:
    """Create the event store, the read models' serving generations and their tracking
    and poisoned-event tables, the generations registry and the access log.

    Returns what it made sure of, for the command to print.
    """
    owner = open_store(settings.model_copy(update={"create_tables": True}))
    done = []
    # The application's recorder (events, recorded-at, chain, checkpoints,
    # idempotency, triggers, lock function) and the snapshot recorder.
    with CaseHistory(env=owner.env()):
        done.append("event store and snapshots")
    registry = owner.registry()
    done.append("read-model generations registry")
    for name in READ_MODELS:
        generation = registry.generation(name)
        close_view(open_view(owner, name, generation))
        done.append(f"read model {table_name(name, generation)}")
    owner.access_log().close()
    done.append("access log")
    owner.webhooks().close()
    done.append("webhook subscribers and deliveries")
    roles = owner.roles  # where there are roles, rewrites are the owner's alone
    if roles is not None:
        with roles.transaction() as curs:
            seal_append_only(
                curs, roles.schema, [*append_only_tables(events_table()), ACCESS_LOG]
            )
        done.append("append-only tables sealed against rewrites")
    return done
