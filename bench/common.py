"""What every benchmark shares: fresh stores (dropped afterwards), the machine's
description, percentiles, the demo filler and the results file.

Every figure a benchmark reports sits beside a baseline measured in the same run on the
same machine, and is quoted as a ratio to it: these machines are shared and noisy, so
an absolute figure from one run says little about the next.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import psycopg
from rich.console import Console

from casestream.application import CaseHistory, Idempotency
from casestream.demo import load_demo
from casestream.domain import commands as cmd
from casestream.domain.values import Actor, SupervisionType
from casestream.keys import init_signing_key
from casestream.persistence.store import open_store
from casestream.settings import Settings

PG_DSN = os.environ.get(
    "CASESTREAM_TEST_POSTGRES_DSN",
    "postgresql://postgres@127.0.0.1:5432/casestream_test",
)
RESULTS = Path(__file__).parent / "results"
console = Console(width=int(os.environ.get("COLUMNS", "140")))


class NoSnapshots(CaseHistory):
    """CaseHistory that never takes or reads snapshots: loads replay every event.

    Same name, so it reads the same tables as CaseHistory.
    """

    name = "CaseHistory"
    snapshotting_intervals: ClassVar[dict[type, int]] = {}


# --- Stores: each benchmark gets its own, created empty and dropped at the end.


def _signing_key(folder: str) -> str:
    """A signing key of the benchmark's own: snapshots are sealed with it, as in
    production (without one, no snapshot is written or trusted)."""
    path = Path(folder) / "agency.pem"
    init_signing_key(path)
    return str(path)


@contextmanager
def pg_store(pool_size: int = 5, max_overflow: int = 10) -> Iterator[Settings]:
    """A fresh PostgreSQL schema for one benchmark, dropped (with its rows) afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    folder = tempfile.mkdtemp(prefix="casestream-bench-")
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield Settings(
            db=PG_DSN,
            db_schema=schema,
            pool_size=pool_size,
            pool_max_overflow=max_overflow,
            signing_key_path=_signing_key(folder),
        )
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def sqlite_store() -> Iterator[Settings]:
    """A fresh SQLite file in a temporary folder, removed afterwards."""
    folder = tempfile.mkdtemp(prefix="casestream-bench-")
    try:
        yield Settings(
            db=f"sqlite:///{folder}/bench.db", signing_key_path=_signing_key(folder)
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def store(kind: str, **pool: int) -> Iterator[Settings]:
    if kind == "postgres":
        with pg_store(**pool) as settings:
            yield settings
    elif kind == "sqlite":
        with sqlite_store() as settings:
            yield settings
    else:
        raise ValueError(kind)


def pg_connect(settings: Settings) -> psycopg.Connection[Any]:
    """A plain psycopg connection (autocommit) with the store's schema on the path."""
    conn = psycopg.connect(PG_DSN, autocommit=True)
    conn.execute(f"SET search_path TO {settings.db_schema}")
    return conn


def sqlite_path(settings: Settings) -> str:
    return open_store(settings).env()["SQLITE_DBNAME"]


# --- The machine, in every results file.


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    try:
        with psycopg.connect(PG_DSN, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            settings = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                for name in ("shared_buffers", "synchronous_commit", "max_connections")
            }
        postgres = f"{row[0] if row else '?'}"
    except psycopg.Error:
        postgres, settings = "unavailable", {}
    mem_gb = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem_gb = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "postgres": postgres,
        "postgres_settings": settings,
        "sqlite": sqlite3.sqlite_version,
        "eventsourcing": metadata.version("eventsourcing"),
        "psycopg": metadata.version("psycopg"),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
        "git": _git_describe(),
    }


def _git_describe() -> str:
    """The commit measured, with ``-dirty`` if the tree had changes."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def results_dir(quick: bool) -> Path:
    """Where a run writes: ``bench/results``, or ``bench/results/quick`` for a smoke
    run, so that a quick run never replaces the figures of a full one."""
    folder = RESULTS / "quick" if quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_results(name: str, args: Any, results: Any) -> Path:
    out = results_dir(bool(getattr(args, "quick", False))) / f"{name}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": name,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "args": vars(args) if hasattr(args, "__dict__") else args,
                "machine": machine(),
                "results": results,
            },
            indent=2,
            default=str,
        )
    )
    console.print(f"[dim]wrote {out}[/]")
    return out


# --- Measuring.


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of samples; p in 0..100."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(math.ceil(p / 100 * len(ordered)) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def summary_ms(samples: list[float]) -> dict[str, float]:
    """p50, p99 and mean of latencies given in seconds, in milliseconds."""
    return {
        "p50_ms": round(percentile(samples, 50) * 1000, 3),
        "p99_ms": round(percentile(samples, 99) * 1000, 3),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3) if samples else math.nan,
    }


def repeat(fn: Callable[[], Any], times: int) -> list[float]:
    """Run ``fn`` ``times`` times; the seconds each run took."""
    return [timed(fn) for _ in range(times)]


def ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 3) if baseline else math.nan


# --- Filling a store with the realistic demo caseload (the batch path).

_PER_PERSON: dict[int, float] = {}


def events_per_person(months: int) -> float:
    """Average events per demo person for a history of ``months`` (measured in memory)."""
    if months not in _PER_PERSON:
        app = CaseHistory(env=open_store(Settings(db="memory://per-person")).env())
        load_demo(app, 300, seed=1, months=months, batch=True)
        head = app.recorder.max_notification_id() or 0
        _PER_PERSON[months] = (head - 7) / 300
        app.close()
    return _PER_PERSON[months]


def fill_demo(
    app: CaseHistory,
    target: int,
    *,
    months: int = 36,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[UUID]:
    """Add demo people until the store holds about ``target`` events; their case ids.

    One ``load_demo`` call per top-up, each with its own officers (so every officer's
    caseload stays the demo's ~70 cases however big the store grows).
    """
    head = app.recorder.max_notification_id() or 0
    ids: list[UUID] = []
    round_ = 0
    while head < target * 0.995:
        people = max(1, math.ceil((target - head) / events_per_person(months)))
        ids += load_demo(
            app,
            people,
            seed=seed * 1000 + round_,
            months=months,
            batch=True,
            progress=progress,
            officer_tag=f"s{seed}r{round_}-",
        )
        head = app.recorder.max_notification_id() or 0
        round_ += 1
    return ids


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def fmt_ms(value: float) -> str:
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


# --- One case and one command, as the append and growth benchmarks write them.

OFFICER = Actor("officer-bench", "officer")


def case_command(
    name: str,
    case_number: str,
    opened: datetime,
    officer: str = "officer-bench",
    identifiers: dict[str, str] | None = None,
) -> cmd.OpenCase:
    """The opening of a benchmark case (one condition, one offence)."""
    return cmd.OpenCase(
        person=cmd.Person(name=name, identifiers=identifiers or {}),
        offences=[cmd.Offence(code="THEFT-1", description="Theft from a shop")],
        court_order=cmd.CourtOrder(
            court="Bench Court", case_number=case_number, order_date=opened.date()
        ),
        supervision_type=SupervisionType.PROBATION,
        term_start=opened.date(),
        conditions=[cmd.Condition(condition_id="c1", text="Report as directed")],
        officer_id=officer,
        unit_id="unit-bench",
        effective_at=opened,
    )


def register_bench_staff(app: CaseHistory, officer: str) -> None:
    """The benchmark's unit and officer in the directory (cases need them)."""
    admin = Actor("admin-bench", "admin")
    if app.find_unit("unit-bench") is None:
        app.execute(
            None, cmd.RegisterUnit(unit_id="unit-bench", name="Bench"), actor=admin
        )
    if app.find_officer(officer) is None:
        app.execute(
            None,
            cmd.RegisterOfficer(officer_id=officer, name=officer, unit_id="unit-bench"),
            actor=admin,
        )


def open_case(app: CaseHistory, n: int, officer: str = "officer-bench") -> UUID:
    """A case like the demo's, through the application (one transaction)."""
    register_bench_staff(app, officer)
    opened = datetime.now(UTC) - timedelta(days=200)
    command = case_command(
        f"Bench Person {n}", f"CR-B-{n}", opened, officer, {"crn": f"B{n:06d}"}
    )
    return app.execute(None, command, actor=OFFICER).id


CONTACT: dict[str, Any] = {
    "contact_type": "office",
    "attendance": "attended",
    "location": "North office",
    "summary": "Reported as directed. Discussed the job search and housing.",
}


def log_contact(
    app: CaseHistory, case_id: UUID, contact_id: str, key: str | None = None
) -> int:
    """The benchmark's command: load the case, log one contact, save (one event)."""
    return app.execute(
        case_id,
        cmd.LogContact(contact_id=contact_id, **CONTACT),
        actor=OFFICER,
        idempotency=Idempotency(key, "bench") if key else None,
    ).version


def events_table(settings: Settings) -> str:
    """The events table CaseHistory writes on this store."""
    return (
        "casehistory_events"
        if open_store(settings).kind == "postgres"
        else "stored_events"
    )


class RawReader:
    """The baseline reader: one plain driver query, no library, no domain objects."""

    def __init__(self, settings: Settings) -> None:
        self.postgres = open_store(settings).kind == "postgres"
        table = events_table(settings)
        cols = "originator_id, originator_version, topic, state"
        mark = "%s" if self.postgres else "?"
        self.all_rows = (
            f"SELECT {cols} FROM {table} WHERE originator_id = {mark} "
            "ORDER BY originator_version"
        )
        self.rows_until = (
            f"SELECT {cols} FROM {table} WHERE originator_id = {mark} "
            f"AND recorded_at <= {mark} ORDER BY originator_version"
        )
        self.conn: Any = (
            pg_connect(settings)
            if self.postgres
            else sqlite3.connect(sqlite_path(settings), check_same_thread=False)
        )

    def case_rows(self, case_id: UUID) -> list[Any]:
        key = case_id if self.postgres else case_id.hex
        return list(self.conn.execute(self.all_rows, (key,)).fetchall())

    def case_rows_until(self, case_id: UUID, at: datetime) -> list[Any]:
        if self.postgres:
            rows = self.conn.execute(self.rows_until, (case_id, at)).fetchall()
        else:
            from casestream.persistence import to_sqlite_time

            rows = self.conn.execute(
                self.rows_until, (case_id.hex, to_sqlite_time(at))
            ).fetchall()
        return list(rows)

    def close(self) -> None:
        self.conn.close()
