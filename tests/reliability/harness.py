"""What the reliability scenarios share: real uvicorn servers, a throwaway PostgreSQL
cluster, tokens, request bodies, reading the store back, and the figures file.

Every loop here is bounded in count and in time, and every process started here is
stopped by whoever started it (the fixtures do it in ``finally``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from casestream.api.auth import mint_token
from casestream.application import CaseHistory
from casestream.persistence import PostgresRecordedAtRecorder, SQLiteRecordedAtRecorder
from casestream.persistence.store import open_store
from casestream.settings import Settings

SECRET = "reliability-suite-secret-0123456789abcdef"
RESULTS_DIR = Path(__file__).parent / "results"
# `make soak` raises this (CASESTREAM_RELIABILITY_SCALE=10): every count grows with it.
SCALE = float(os.environ.get("CASESTREAM_RELIABILITY_SCALE", "1") or "1")
WRITERS = 8


def scaled(n: int) -> int:
    return max(1, round(n * SCALE))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def token(
    user: str, role: str, unit: str | None = None, cases: tuple[str, ...] = ()
) -> str:
    return mint_token(SECRET, user, role, unit=unit, cases=cases)


def bearer(
    user: str, role: str, unit: str | None = None, cases: tuple[str, ...] = ()
) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user, role, unit, cases)}"}


OFFICER = bearer("officer-ana", "officer", "unit-north")
AUDITOR = bearer("auditor-eve", "auditor")
CONSUMER = bearer("reporting-system", "consumer")


# Each case body names another person and court case, so that opening many cases is
# not refused as a possible duplicate (tests of that use the same values on purpose).
_SERIAL = itertools.count(1)


def case_body(
    officer: str = "officer-ana", unit: str = "unit-north", name: str = "Dana Reyes"
) -> dict[str, Any]:
    return {
        "person": {
            "name": name,
            "date_of_birth": "1990-04-02",
            "identifiers": {"crn": f"X{next(_SERIAL):06d}"},
        },
        "offences": [{"code": "THEFT-1", "description": "Theft from a shop"}],
        "court_order": {
            "court": "Springfield Municipal",
            "case_number": f"CR-2026-{next(_SERIAL):05d}",
            "order_date": "2026-01-12",
        },
        "supervision_type": "probation",
        "term_start": "2026-01-12",
        "term_end": "2027-01-11",
        "conditions": [
            {"condition_id": "c1", "category": "standard", "text": "Report as directed"}
        ],
        "officer_id": officer,
        "unit_id": unit,
        "effective_at": "2026-01-12T09:00:00+00:00",
    }


def contact_body(contact_id: str) -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "contact_type": "office",
        "attendance": "attended",
        "location": "District office",
        "summary": "Reported as directed",
    }


def assessment_body(assessment_id: str, risk: str) -> dict[str, Any]:
    return {
        "assessment_id": assessment_id,
        "instrument": "lsi_r",
        "instrument_version": "2.0",
        "purpose": "reassessment_scheduled",
        "scores": {"criminal_history": 6},
        "total": 31,
        "risk_level": risk,
        "needs": [],
        "strengths": [],
    }


# Stores.


def store_url(settings: Settings) -> str:
    return settings.db.get_secret_value()


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``casestream`` server process on the given store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASESTREAM_")}
    env.update(
        {
            "CASESTREAM_DB": store_url(settings),
            "CASESTREAM_DB_SCHEMA": settings.db_schema,
            "CASESTREAM_JWT_SECRET": SECRET,
            "CASESTREAM_POOL_SIZE": "3",
            "CASESTREAM_POOL_MAX_OVERFLOW": "6",
            "CASESTREAM_FEED_POLL_SECONDS": "0.1",
            # No alerts written behind the tests' backs (tests/*/test_alerts* run it).
            "CASESTREAM_ALERT_EVERY_SECONDS": "0",
            # The test store's signing key: snapshots the server seals, the test's
            # own application can open (and the other way round).
            "CASESTREAM_SIGNING_KEY_PATH": settings.signing_key_path,
            # And its master key: every case's events are encrypted under a data key
            # it wraps, so a server without it could not read what the test wrote.
            "CASESTREAM_MASTER_KEY_PATH": str(settings.master_key_file),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def all_notifications(app: CaseHistory) -> list[Any]:
    """Every event in the store, in position order (read directly, not over HTTP)."""
    found: list[Any] = []
    start = 0
    while True:
        page = app.recorder.select_notifications(start, 1000, inclusive_of_start=False)
        found.extend(page)
        if len(page) < 1000:
            return found
        start = page[-1].id


def event_type(topic: str) -> str:
    return topic.rsplit(".", 1)[-1]


# Writers that hold their transaction open on purpose.


class SlowPostgresRecorder(PostgresRecordedAtRecorder):
    """Sleeps inside the events' transaction after taking its notification ids (and so
    while holding the table lock): it begins before other writers and commits after."""

    seconds = 0.4

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        time.sleep(self.seconds)
        return ids


class SlowSQLiteRecorder(SQLiteRecordedAtRecorder):
    """The same on SQLite: sleeps holding the write lock, after the insert."""

    seconds = 0.4

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        time.sleep(self.seconds)
        return ids


def slow_env(settings: Settings) -> dict[str, str]:
    """The store's environment, with a recorder that sleeps inside its transactions."""
    store = open_store(settings)
    recorder = SlowPostgresRecorder if store.kind == "postgres" else SlowSQLiteRecorder
    return {
        **store.env(),
        "APPLICATION_RECORDER_TOPIC": get_topic(recorder),
    }


# Servers.


class Server:
    """``uvicorn --factory casestream.api.app:create_app`` in its own process group."""

    def __init__(
        self, env: dict[str, str], workdir: Path, *, port: int | None = None
    ) -> None:
        self.env = env
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log = workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self.env
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "casestream.api.app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "5",
                ],
                env=env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        with httpx2.Client(base_url=self.url, timeout=2.0) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"server exited with {self.proc.returncode}: {self.tail()}"
                    )
                with contextlib.suppress(httpx2.HTTPError):
                    if client.get("/healthz").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    self.kill9()
                    raise RuntimeError(
                        f"server did not answer within {timeout}s: {self.tail()}"
                    )
                time.sleep(0.1)

    def kill9(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill9()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def client(self, timeout: float = 30.0) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, timeout=timeout)

    def wait_for_read_models(self, timeout: float = 60.0) -> None:
        """Until the audit trail and caseload views have caught up with the store."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                audit = client.get("/audit", params={"limit": 1}, headers=AUDITOR)
                caseload = client.get("/caseloads/nobody", headers=AUDITOR)
                if (
                    audit.status_code == caseload.status_code == 200
                    and audit.json()["lag"] == caseload.json()["lag"] == 0
                ):
                    return
                assert time.monotonic() < deadline, (
                    f"read models still behind: {audit.text} {caseload.text}"
                )
                time.sleep(0.1)


@contextlib.contextmanager
def running(env: dict[str, str], workdir: Path) -> Iterator[Server]:
    server = Server(env, workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# A PostgreSQL cluster of our own, to stop and start (never the shared server).


def postgres_bin() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: (
            int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0
        ),
    )
    if not found:
        found_on_path = shutil.which("pg_ctl")
        if found_on_path is None:
            raise RuntimeError(
                "PostgreSQL server binaries (pg_ctl, initdb) were not found"
            )
        return Path(found_on_path).parent
    return found[-1].parent


class OwnCluster:
    """A throwaway PostgreSQL cluster in a temporary directory, on a free port.

    PostgreSQL refuses to run as root, so as root the commands run as the ``postgres``
    OS user (``runuser``), and the directory belongs to that user.
    """

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="casestream-pg-"))
        self.data = self.root / "data"
        self.restarts = 0
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 60.0) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*prefix, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout}\n{result.stderr}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 60\n"
                "fsync = off\nfull_page_writes = off\nshared_buffers = 32MB\n"
            )

    def start(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            mode,
            "-w",
            "-t",
            "60",
            "stop",
        )

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# Figures.


@dataclass
class Tally:
    """Counts a scenario keeps while its threads run (thread-safe)."""

    counts: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + n

    def status(self, code: int) -> None:
        with self.lock:
            self.statuses[code] = self.statuses.get(code, 0) + 1
            self.counts["requests"] = self.counts.get("requests", 0) + 1

    def __getitem__(self, name: str) -> int:
        with self.lock:
            return self.counts.get(name, 0)

    @property
    def server_errors(self) -> int:
        with self.lock:
            return sum(n for code, n in self.statuses.items() if code >= 500)

    def status_of(self, *codes: int) -> int:
        with self.lock:
            return sum(self.statuses.get(c, 0) for c in codes)


def record_figures(
    scenario: str, store: str, figures: dict[str, Any], *, title: str
) -> Path:
    """Write one scenario's figures to ``results/<scenario>-<store>[-x<scale>].json``.

    Written before the test asserts, so a failing run leaves its numbers behind too.
    ``python -m tests.reliability.report`` turns the files into docs/reliability.md.
    """
    RESULTS_DIR.mkdir(exist_ok=True)
    scale = "" if SCALE == 1 else f"-x{SCALE:g}"  # a soak keeps its own files
    path = RESULTS_DIR / f"{scenario}-{store}{scale}.json"
    payload = {
        "scenario": scenario,
        "title": title,
        "store": store,
        "scale": SCALE,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **figures,
    }
    path.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
    return path
