"""Append throughput on PostgreSQL: commands per second, with p50/p99 latency.

1. Concurrent commands: 1, 4 and 16 writer threads, each on its own cases, each command
   one CaseHistory call (load the case, log one contact, save one event in one
   transaction). Through casestream's recorder (recorded-at, hash chain), the same with
   an idempotency key (as every API write has), and through the library's plain
   PostgreSQL recorder (``PERSISTENCE_MODULE=eventsourcing.postgres``): the cost of the
   chain. Baseline: raw ``psycopg`` single-row INSERT transactions of the same bytes
   into a table of the same shape, at the same concurrency. **store append + key**
   is casestream's recorder alone (one stored event with recorded-at, chain link and
   idempotency key, no command): what an append costs against that raw INSERT.
2. Bulk import (a legacy history migration): demo histories built on the aggregates in
   memory, then saved through the application in batches; baseline: ``COPY`` of the
   very same rows into a table of the same shape, in the same batches.

Usage: ``python -m bench.append [--quick] [--writers 1,4,16] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, StoredEvent
from rich.table import Table

from bench.common import (
    CONTACT,
    OFFICER,
    PG_DSN,
    case_command,
    console,
    events_per_person,
    fmt_ms,
    fmt_rate,
    log_contact,
    open_case,
    pg_connect,
    pg_store,
    ratio,
    summary_ms,
    timed,
    write_results,
)
from casestream.application import CaseHistory, DateAsISO
from casestream.demo import demo_cases
from casestream.domain import commands as cmd
from casestream.domain.probationer import Probationer
from casestream.persistence.store import open_store
from casestream.settings import Settings

CASES_PER_WRITER = 4
SAMPLE: list[tuple[str, bytes]] = []  # the bytes every raw INSERT writes
VARIANTS = (
    "raw INSERT",
    "store append + key",
    "library recorder",
    "casestream",
    "casestream + key",
)

RAW_TABLE = """
CREATE TABLE {name} (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (originator_id, originator_version));
CREATE UNIQUE INDEX {name}_notification_id_idx ON {name} (notification_id);
CREATE INDEX {name}_recorded_at_idx ON {name} (recorded_at);
"""


def library_env(settings: Settings) -> dict[str, str]:
    """The same store through the library's own recorder: no recorded-at, chain, keys."""
    return {
        **open_store(settings).env(),
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
    }


def sample_event_bytes(app: CaseHistory) -> tuple[str, bytes]:
    """Topic and stored bytes of one benchmark contact event (what each command writes)."""
    opened = datetime.now(UTC) - timedelta(days=1)
    case = Probationer.open(case_command("Sample", "CR-S-1", opened), OFFICER)
    case.execute(cmd.LogContact(contact_id="k1", **CONTACT), OFFICER)
    stored = app.mapper.to_stored_event(case.pending_events[-1])
    return stored.topic, stored.state


# --- Concurrent writers.


def run_writers(
    writers: int, seconds: float, command: Callable[[int, int], None]
) -> tuple[int, float, list[float]]:
    """``writers`` threads calling ``command(writer, n)`` until time is up.

    Returns (commands done, wall seconds, latency of each command in seconds).
    """
    latencies: list[list[float]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers + 1)
    deadline = [0.0]

    def work(w: int) -> None:
        mine = latencies[w]
        barrier.wait()
        n = 0
        try:
            while True:
                start = time.perf_counter()
                if start >= deadline[0]:
                    return
                command(w, n)
                mine.append(time.perf_counter() - start)
                n += 1
        except BaseException as e:  # reported after the run
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    started = time.perf_counter()
    deadline[0] = started + seconds
    barrier.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    flat = [x for per in latencies for x in per]
    return len(flat), wall, flat


class AppWriter:
    """Writers through a CaseHistory: each writer has its own cases, taken in turn."""

    def __init__(self, app: CaseHistory, writers: int, keyed: bool) -> None:
        self.app = app
        self.keyed = keyed
        self.cases: list[list[UUID]] = [
            [open_case(app, w * 100 + k) for k in range(CASES_PER_WRITER)]
            for w in range(writers)
        ]
        self.run_id = uuid.uuid4().hex[:6]

    def __call__(self, w: int, n: int) -> None:
        case_id = self.cases[w][n % CASES_PER_WRITER]
        contact_id = f"k{self.run_id}-{w}-{n}"
        key = f"{self.run_id}-{w}-{n}" if self.keyed else None
        log_contact(self.app, case_id, contact_id, key)


class StoreWriter:
    """Appends through casestream's recorder alone, no command: one stored event with
    its recorded-at, chain link and idempotency key, each writer on its own stream."""

    def __init__(
        self, app: CaseHistory, writers: int, topic: str, state: bytes
    ) -> None:
        self.recorder = app.recorder
        self.ids = [uuid.uuid4() for _ in range(writers)]
        self.topic, self.state = topic, state
        self.run_id = uuid.uuid4().hex[:6]

    def __call__(self, w: int, n: int) -> None:
        event = StoredEvent(self.ids[w], n + 1, self.topic, self.state)
        self.recorder.insert_events(
            [event], idempotency=(f"s{self.run_id}-{w}-{n}", "bench")
        )


class LibraryCases(Application[UUID]):
    """The library's own application and recorder, without casestream's checked load,
    chain, recorded-at or keys: the baseline the append benchmark compares against."""

    name = "CaseHistory"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


class LibraryWriter:
    """Writers through the library's application: load, one command, save."""

    def __init__(self, app: LibraryCases, writers: int) -> None:
        self.app = app
        opened = datetime.now(UTC) - timedelta(days=200)
        self.cases: list[list[UUID]] = []
        for w in range(writers):
            mine = []
            for k in range(CASES_PER_WRITER):
                case = Probationer.open(
                    case_command(f"Bench Person {w}-{k}", f"CR-L-{w}-{k}", opened),
                    OFFICER,
                )
                app.save(case)
                mine.append(case.id)
            self.cases.append(mine)
        self.run_id = uuid.uuid4().hex[:6]

    def __call__(self, w: int, n: int) -> None:
        case: Probationer = self.app.repository.get(self.cases[w][n % CASES_PER_WRITER])
        command = cmd.LogContact(contact_id=f"k{self.run_id}-{w}-{n}", **CONTACT)
        case.execute(command, OFFICER)
        self.app.save(case)


class RawWriter:
    """Writers through plain psycopg: one single-row INSERT transaction per command."""

    def __init__(
        self, settings: Settings, table: str, writers: int, topic: str, state: bytes
    ) -> None:
        self.conns = [pg_connect(settings) for _ in range(writers)]
        self.ids = [uuid.uuid4() for _ in range(writers)]
        self.topic, self.state = topic, state
        self.sql = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %s)"
        )

    def __call__(self, w: int, n: int) -> None:
        self.conns[w].execute(
            self.sql, (self.ids[w], n + 1, self.topic, self.state), prepare=True
        )

    def close(self) -> None:
        for c in self.conns:
            c.close()


def concurrent(args: argparse.Namespace) -> list[dict[str, Any]]:
    found: dict[tuple[str, int], list[tuple[int, float, list[float]]]] = {}
    with pg_store() as raw_s, pg_store() as lib_s, pg_store() as cs_s:
        with CaseHistory(env=open_store(cs_s).env()) as probe:
            SAMPLE[:] = [sample_event_bytes(probe)]
        with pg_connect(raw_s) as conn:
            conn.execute(RAW_TABLE.format(name="raw_events"))
        for round_ in range(args.rounds):
            for writers in args.writers:
                for variant in VARIANTS:
                    result = _one_run(
                        variant, writers, args.seconds, raw_s, lib_s, cs_s
                    )
                    found.setdefault((variant, writers), []).append(result)
                    console.print(
                        f"[dim]round {round_ + 1}, {writers:>2} writers, "
                        f"{variant:<17} {result[0] / result[1]:>8,.0f}/s[/]"
                    )
    rows = []
    for writers in args.writers:
        base = _pooled(found[("raw INSERT", writers)])
        lib = _pooled(found[("library recorder", writers)])
        for variant in VARIANTS:
            r = _pooled(found[(variant, writers)])
            rows.append(
                {
                    "writers": writers,
                    "variant": variant,
                    "commands": r["commands"],
                    "per_s": r["per_s"],
                    **r["latency"],
                    "vs_raw_insert": ratio(r["per_s"], base["per_s"]),
                    "vs_library_recorder": ratio(r["per_s"], lib["per_s"]),
                    "p50_vs_raw_insert": ratio(
                        r["latency"]["p50_ms"], base["latency"]["p50_ms"]
                    ),
                }
            )
    return rows


def _one_run(
    variant: str,
    writers: int,
    seconds: float,
    raw_s: Settings,
    lib_s: Settings,
    cs_s: Settings,
) -> tuple[int, float, list[float]]:
    """One timed run; the app (and its connection pool, one per writer) only for it."""
    if variant == "raw INSERT":
        topic, state = SAMPLE[0]
        raw = RawWriter(raw_s, "raw_events", writers, topic, state)
        try:
            return run_writers(writers, seconds, raw)
        finally:
            raw.close()
    settings = lib_s if variant == "library recorder" else cs_s
    settings = settings.model_copy(
        update={"pool_size": writers, "pool_max_overflow": 2}
    )
    if variant == "library recorder":
        with LibraryCases(env=library_env(settings)) as library:
            return run_writers(writers, seconds, LibraryWriter(library, writers))
    with CaseHistory(env=open_store(settings).env()) as app:
        if variant.startswith("store"):
            topic, state = SAMPLE[0]
            store_writer = StoreWriter(app, writers, topic, state)
            return run_writers(writers, seconds, store_writer)
        writer = AppWriter(app, writers, keyed=variant.endswith("key"))
        return run_writers(writers, seconds, writer)


def _pooled(results: list[tuple[int, float, list[float]]]) -> dict[str, Any]:
    commands = sum(r[0] for r in results)
    seconds = sum(r[1] for r in results)
    latencies = [x for r in results for x in r[2]]
    return {
        "commands": commands,
        "per_s": round(commands / seconds, 1),
        "latency": summary_ms(latencies),
    }


# --- Bulk import.


def bulk(args: argparse.Namespace) -> list[dict[str, Any]]:
    people = max(2, round(args.bulk_events / events_per_person(36)))
    results: list[dict[str, Any]] = []
    rows: list[tuple[Any, ...]] = []
    sizes: list[int] = []
    copy_sizes: list[int] = []
    with pg_store() as cs_s, pg_store() as lib_s, pg_store() as raw_s:
        for variant, settings in (("casestream", cs_s), ("library recorder", lib_s)):
            # The library's application saves what casestream's builds (the
            # partners the cases refer to stay with the builder).
            with (
                CaseHistory(env=open_store(cs_s).env()) as builder,
                (
                    LibraryCases(env=library_env(lib_s))
                    if variant == "library recorder"
                    else builder
                ) as app,
            ):
                start = time.perf_counter()
                cases = list(demo_cases(builder, people, seed=3, months=36))
                build_s = time.perf_counter() - start
                groups = _batches(cases, args.batch_events)
                sizes = [sum(len(c.pending_events) for c in g) for g in groups]
                latencies = [timed(partial(app.save, *g)) for g in groups]
            results.append(_bulk_row(f"{variant}: app.save", sizes, latencies))
            results[-1]["build_events_per_s"] = round(sum(sizes) / build_s)
            if variant == "casestream":
                with pg_connect(settings) as conn:
                    rows = conn.execute(
                        "SELECT originator_id, originator_version, topic, state "
                        "FROM casehistory_events ORDER BY notification_id"
                    ).fetchall()
                    rows = rows[len(rows) - sum(sizes) :]  # the partners came first
                    copy_sizes = sizes
        with pg_connect(raw_s) as conn:
            conn.execute(RAW_TABLE.format(name="raw_events"))
            chunks, at = [], 0
            for size in copy_sizes:
                chunks.append(rows[at : at + size])
                at += size
            latencies = [timed(partial(_copy, conn, c)) for c in chunks]
        results.insert(0, _bulk_row("COPY (baseline)", copy_sizes, latencies))
    base = results[0]["events_per_s"]
    for r in results:
        r["vs_copy"] = ratio(r["events_per_s"], base)
    return results


def _bulk_row(variant: str, sizes: list[int], latencies: list[float]) -> dict[str, Any]:
    return {
        "variant": variant,
        "events": sum(sizes),
        "batches": len(sizes),
        "events_per_s": round(sum(sizes) / sum(latencies)),
        "build_events_per_s": None,
        **{f"batch_{k}": v for k, v in summary_ms(latencies).items()},
    }


def _batches(cases: list[Probationer], events: int) -> list[list[Probationer]]:
    groups: list[list[Probationer]] = [[]]
    count = 0
    for case in cases:
        groups[-1].append(case)
        count += len(case.pending_events)
        if count >= events:
            groups.append([])
            count = 0
    return [g for g in groups if g]


def _copy(conn: Any, rows: list[tuple[Any, ...]]) -> None:
    with (
        conn.transaction(),
        conn.cursor() as cur,
        cur.copy(
            "COPY raw_events (originator_id, originator_version, topic, state) "
            "FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


# --- Output.


def show(
    concurrent_rows: list[dict[str, Any]], bulk_rows: list[dict[str, Any]]
) -> None:
    table = Table(title="Concurrent commands on PostgreSQL (one event each)")
    for c in (
        "writers",
        "path",
        "commands/s",
        "p50 ms",
        "p99 ms",
        "vs raw INSERT",
        "vs library",
    ):
        table.add_column(c, justify="right" if c != "path" else "left")
    for r in concurrent_rows:
        table.add_row(
            str(r["writers"]),
            r["variant"],
            fmt_rate(r["per_s"]),
            fmt_ms(r["p50_ms"]),
            fmt_ms(r["p99_ms"]),
            f"{r['vs_raw_insert']:.3f}",
            f"{r['vs_library_recorder']:.3f}",
        )
    console.print(table)
    table = Table(title="Bulk import on PostgreSQL (legacy migration)")
    for c in ("path", "events", "events/s", "batch p50 ms", "batch p99 ms", "vs COPY"):
        table.add_column(c, justify="right" if c != "path" else "left")
    for r in bulk_rows:
        table.add_row(
            r["variant"],
            f"{r['events']:,}",
            fmt_rate(r["events_per_s"]),
            fmt_ms(r["batch_p50_ms"]),
            fmt_ms(r["batch_p99_ms"]),
            f"{r['vs_copy']:.3f}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--writers", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bulk-events", type=int, default=100_000)
    parser.add_argument("--batch-events", type=int, default=1000)
    args = parser.parse_args()
    args.writers = [int(w) for w in str(args.writers).split(",")]
    if args.quick:
        args.seconds, args.rounds, args.bulk_events = 1.0, 1, 5000
    console.print(f"[bold]Append benchmark[/] on {PG_DSN}")
    concurrent_rows = concurrent(args)
    bulk_rows = bulk(args)
    show(concurrent_rows, bulk_rows)
    write_results("append", args, {"concurrent": concurrent_rows, "bulk": bulk_rows})


if __name__ == "__main__":
    main()
