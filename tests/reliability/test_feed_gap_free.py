"""Scenario 2: the feed has no gaps and no repeats while many writers commit at once.

Eight HTTP writers append contacts across sixteen cases. Beside them, on purpose, slow
transactions commit out of order: a writer in this process whose recorder sleeps inside
its transaction after it has taken its notification ids, and a bare connection that
takes the same table lock the recorder takes and sits on it. Two consumers follow the
feed from position 0 meanwhile: one pages ``GET /events``, one follows the server-sent
stream and reconnects with ``Last-Event-ID``. Each must end with every committed event
exactly once, in position order.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from tests.conftest import postgres_dsn
from tests.reliability.harness import (
    CONSUMER,
    OFFICER,
    WRITERS,
    CaseHistory,
    Server,
    Tally,
    all_notifications,
    case_body,
    contact_body,
    record_figures,
    scaled,
    slow_env,
)

from casestream.domain import commands as cmd
from casestream.domain.values import Actor
from casestream.persistence.store import open_store
from casestream.settings import Settings

CASES = 16
CONTACTS_PER_WRITER = scaled(25)
SLOW_COMMITS = scaled(5)
LOCK_HOLDS = scaled(4)
TIME_LIMIT = 60.0 * max(1.0, CONTACTS_PER_WRITER / 25)

Seen = list[tuple[int, str]]  # (position, "<case>/<version>") in the order received


def feed_faults(seen: Seen, stored: list[tuple[int, str]]) -> dict[str, int]:
    """How a consumer's record differs from the store: every count must be 0."""
    positions = [p for p, _ in seen]
    stored_positions = {p for p, _ in stored}
    return {
        "skipped": len(stored_positions - set(positions)),
        "repeated": len(positions) - len(set(positions)),
        "out_of_order": sum(1 for a, b in itertools.pairwise(positions) if b <= a),
        "unknown": len(set(positions) - stored_positions),
        "mismatched": len(set(seen) - set(stored)),
    }


def page_consumer(
    server: Server,
    done: Callable[[int], bool],
    seen: Seen,
    tally: Tally,
    deadline: float,
) -> None:
    """Pages ``GET /events?after=`` from 0, as a downstream system keeping its position."""
    position = 0
    with server.client() as http:
        while time.monotonic() < deadline:
            response = http.get(
                "/events", params={"after": position, "limit": 50}, headers=CONSUMER
            )
            tally.status(response.status_code)
            if response.status_code != 200:
                tally.add("consumer_failures")
                return
            page = response.json()
            seen.extend((int(e["sequence"]), e["id"]) for e in page["items"])
            position = int(page["next"])
            if done(position):
                return
            if not page["items"]:
                time.sleep(0.02)


def stream_consumer(
    server: Server,
    done: Callable[[int], bool],
    seen: Seen,
    tally: Tally,
    deadline: float,
) -> None:
    """Follows ``GET /events/stream``; each connection lasts at most two seconds, and the
    next one resumes with ``Last-Event-ID``, as a browser's EventSource would."""
    last = 0
    with server.client() as http:
        while time.monotonic() < deadline and not done(last):
            tally.add("stream_connections")
            with http.stream(
                "GET",
                "/events/stream",
                params={"max_seconds": 2},
                headers={**CONSUMER, "Last-Event-ID": str(last)},
            ) as response:
                tally.status(response.status_code)
                if response.status_code != 200:
                    tally.add("consumer_failures")
                    return
                event_id = None
                for line in response.iter_lines():
                    if line.startswith("id: "):
                        event_id = int(line[4:])
                    elif line.startswith("data: ") and event_id is not None:
                        seen.append((event_id, json.loads(line[6:])["id"]))
                        last = event_id


@contextlib.contextmanager
def lock_holder(settings: Settings, store: str, table_name: str) -> Any:
    """A connection that takes the writers' lock (PostgreSQL: the recorder's own
    ``LOCK TABLE ... IN EXCLUSIVE MODE``; SQLite: the write lock) and holds it."""
    if store == "postgres":
        conn: Any = psycopg.connect(postgres_dsn(), autocommit=True)
        table = sql.Identifier(settings.db_schema, table_name)

        def hold(seconds: float) -> None:
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '5s'")
                conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
                time.sleep(seconds)
    else:
        path = open_store(settings).env()["SQLITE_DBNAME"]
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)

        def hold(seconds: float) -> None:
            conn.execute("BEGIN IMMEDIATE")
            time.sleep(seconds)
            conn.execute("COMMIT")

    try:
        yield hold
    finally:
        conn.close()


@pytest.mark.parametrize("store", ["postgres", "sqlite"])
def test_the_feed_has_every_event_once_in_order(
    server: Server, store_app: CaseHistory, live_settings: Settings, store: str
):
    started = time.monotonic()
    deadline = started + TIME_LIMIT
    with server.client() as client:
        cases = []
        for n in range(CASES + 1):
            response = client.post(
                "/probationers", json=case_body(name=f"Person {n}"), headers=OFFICER
            )
            assert response.status_code == 201, response.text
            cases.append(response.json()["id"])
    slow_case = cases.pop()

    tally = Tally()
    acknowledged: set[str] = set()  # "<case>/<version>" of every 201
    failures: list[str] = []
    lock = threading.Lock()
    writers_done = threading.Event()
    head: list[int] = []  # set once every writer has finished

    def done(position: int) -> bool:
        return writers_done.is_set() and bool(head) and position >= head[0]

    def writer(w: int) -> None:
        rng = random.Random(w)
        with server.client() as http:
            for n in range(CONTACTS_PER_WRITER):
                case_id = rng.choice(cases)
                for _ in range(100):
                    if time.monotonic() > deadline:
                        failures.append("writer out of time")
                        return
                    response = http.post(
                        f"/probationers/{case_id}/contacts",
                        json=contact_body(f"w{w}-k{n}"),
                        headers=OFFICER,
                    )
                    tally.status(response.status_code)
                    if response.status_code == 201:
                        with lock:
                            acknowledged.add(f"{case_id}/{response.json()['version']}")
                        break
                    if response.status_code != 409:  # 409: another writer took it
                        failures.append(f"{response.status_code} {response.text[:200]}")
                        return
                    tally.add("conflicts_409_retried")

    def slow_writer() -> None:
        """Commits through the recorder, sleeping inside each transaction."""
        slow = CaseHistory(env=slow_env(live_settings))
        try:
            actor = Actor("officer-ana", "officer")
            for n in range(SLOW_COMMITS):
                version = slow.execute(
                    UUID(slow_case),
                    cmd.LogContact(**contact_body(f"slow-{n}")),
                    actor=actor,
                ).version
                tally.add("slow_commits")
                with lock:
                    acknowledged.add(f"{slow_case}/{version}")
                time.sleep(0.1)
        except Exception as e:  # reported below, not lost in a thread
            failures.append(f"slow writer: {e!r}")
        finally:
            slow.close()

    def holder() -> None:
        try:
            table_name = store_app.recorder.events_table_name  # type: ignore[attr-defined]
            with lock_holder(live_settings, store, table_name) as hold:
                for _ in range(LOCK_HOLDS):
                    time.sleep(0.3)
                    hold(0.4)
                    tally.add("lock_holds")
        except Exception as e:
            failures.append(f"lock holder: {e!r}")

    paged: Seen = []
    streamed: Seen = []
    consumers = [
        threading.Thread(
            target=page_consumer, args=(server, done, paged, tally, deadline)
        ),
        threading.Thread(
            target=stream_consumer, args=(server, done, streamed, tally, deadline)
        ),
    ]
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    writers += [threading.Thread(target=slow_writer), threading.Thread(target=holder)]
    for t in consumers + writers:
        t.start()
    for t in writers:
        t.join(timeout=TIME_LIMIT + 30)
    head.append(store_app.recorder.max_notification_id() or 0)
    writers_done.set()
    for t in consumers:
        t.join(timeout=TIME_LIMIT + 30)
    assert not any(t.is_alive() for t in consumers + writers), "a thread did not stop"

    stored = [
        (n.id, f"{n.originator_id}/{n.originator_version}")
        for n in all_notifications(store_app)
    ]
    stored_ids = {i for _, i in stored}
    paged_faults = feed_faults(paged, stored)
    streamed_faults = feed_faults(streamed, stored)
    lost = len(acknowledged - {i for _, i in paged}) + len(
        acknowledged - {i for _, i in streamed}
    )
    record_figures(
        "2-feed-gap-free",
        store,
        {
            "writers": WRITERS,
            "requests": tally["requests"],
            "acknowledged": len(acknowledged),
            "found": len(acknowledged & stored_ids),
            "duplicates": paged_faults["repeated"] + streamed_faults["repeated"],
            "lost": lost,
            "server_errors": tally.server_errors,
            "stored_events": len(stored),
            "paged_consumer": {"events": len(paged), **paged_faults},
            "stream_consumer": {
                "events": len(streamed),
                "connections": tally["stream_connections"],
                **streamed_faults,
            },
            "slow_commits_holding_the_lock": tally["slow_commits"],
            "bare_lock_holds": tally["lock_holds"],
            "conflicts_409_retried": tally["conflicts_409_retried"],
            "seconds": round(time.monotonic() - started, 1),
        },
        title="Gap-free feed under concurrent and deliberately slow commits",
    )

    assert failures == []
    assert tally["slow_commits"] == SLOW_COMMITS
    assert tally["lock_holds"] == LOCK_HOLDS
    assert len(acknowledged) == WRITERS * CONTACTS_PER_WRITER + SLOW_COMMITS
    assert acknowledged <= stored_ids
    assert paged_faults == dict.fromkeys(paged_faults, 0)
    assert streamed_faults == dict.fromkeys(streamed_faults, 0)
    assert paged == stored
    assert streamed == stored
    assert lost == 0
    assert tally.server_errors == 0


def test_the_feed_check_catches_a_reader_that_skips(pg_schema: str):
    """The check above has teeth: without the table lock, a later id can commit first,
    and a reader that moves past it never sees the earlier one."""
    table = sql.Identifier(pg_schema, "no_lock")
    with psycopg.connect(postgres_dsn(), autocommit=True) as setup:
        setup.execute(
            sql.SQL("CREATE TABLE {} (id bigserial PRIMARY KEY, v text)").format(table)
        )
    with (
        psycopg.connect(postgres_dsn()) as slow,
        psycopg.connect(postgres_dsn(), autocommit=True) as fast,
    ):
        slow.execute(
            sql.SQL("INSERT INTO {} (v) VALUES ('slow')").format(table)
        )  # takes id 1
        fast.execute(
            sql.SQL("INSERT INTO {} (v) VALUES ('fast')").format(table)
        )  # id 2, commits
        select = sql.SQL("SELECT id, v FROM {} WHERE id > %s ORDER BY id").format(table)
        seen: Seen = [
            (int(i), str(v)) for i, v in fast.execute(select, (0,)).fetchall()
        ]
        slow.commit()  # id 1 commits after the reader has moved past it, to 2
        seen += [
            (int(i), str(v)) for i, v in fast.execute(select, (seen[-1][0],)).fetchall()
        ]
        stored = [
            (int(i), str(v))
            for i, v in fast.execute(
                sql.SQL("SELECT id, v FROM {} ORDER BY id").format(table)
            ).fetchall()
        ]

    assert stored == [(1, "slow"), (2, "fast")]
    assert feed_faults(seen, stored)["skipped"] == 1


def test_database_functions_stay_off(live_settings: Settings, store_app: CaseHistory):
    """``POSTGRES_ENABLE_DB_FUNCTIONS`` inserts without the table lock (the gap above)."""
    env = open_store(live_settings).env()
    assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "n"
    for url in (
        "postgresql://u:p@h:5432/d",
        "postgres://h/d",
        "postgresql+psycopg://h/d",
    ):
        other = open_store(Settings(db=url)).env()  # type: ignore[arg-type]
        assert other.get("POSTGRES_ENABLE_DB_FUNCTIONS") == "n"
    assert store_app.recorder.datastore.enable_db_functions is False  # type: ignore[attr-defined]


@pytest.fixture
def store() -> str:
    return "postgres"
