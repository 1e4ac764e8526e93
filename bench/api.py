"""The HTTP API under load: requests per second and p50/p99 latency with 50 concurrent
clients, for an officer's caseload, one case, and logging a contact.

The server is uvicorn running casestream's app on a fresh PostgreSQL schema filled with
the demo caseload, with the usual recommended number of workers, (2 x cores) + 1
(``--workers`` to change it). The load comes from this process: 50 asyncio clients, each
on its own keep-alive connection, sending the next request as soon as the last answer
is read (a closed loop; a tiny HTTP/1.1 client, so the driver spends little CPU).
Each client acts as one officer (a bearer token from ``mint_token``) on that officer's
own cases; writes go to cases no other client writes to, so none conflict.

Baseline, measured in the same run under the same load: ``GET /healthz`` of the same
app (routing, middleware, JSON, no store). Usage:
``python -m bench.api [--quick] [--clients N] [--seconds S] [--workers W]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from rich.table import Table

from bench.common import (
    console,
    fill_demo,
    fmt_ms,
    fmt_rate,
    pg_store,
    ratio,
    results_dir,
    summary_ms,
    write_results,
)
from casestream.application import CaseHistory
from casestream.persistence.store import open_store
from casestream.projections.runner import READ_MODELS, catch_up, open_view
from casestream.settings import Settings

HEALTH = "GET /healthz (baseline)"
found_errors: dict[int, int] = {}  # tracebacks each server configuration logged
ENDPOINTS = (
    HEALTH,
    "GET /caseloads/{officer}",
    "GET /probationers/{id}",
    "POST /probationers/{id}/contacts",
)
Request = Callable[[int, int], bytes]
# The usual advice for uvicorn/gunicorn, (2 x cores) + 1, capped at 5: every worker holds
# ~15 PostgreSQL connections (its pools and two projection runners), and a default
# server allows 100.
RECOMMENDED_WORKERS = min(2 * (os.cpu_count() or 1) + 1, 5)


# --- A small closed-loop HTTP/1.1 load driver.


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wall: float = 0.0

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        k.strip().lower(): v.strip()
        for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _client(
    k: int, port: int, request: Request, deadline: float, out: Outcome
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        n = 0
        while (start := time.perf_counter()) < deadline:
            writer.write(request(k, n))
            status = await _read_response(reader)
            out.latencies.append(time.perf_counter() - start)
            out.statuses[status] += 1
            n += 1
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _drive(port: int, request: Request, clients: int, seconds: float) -> Outcome:
    out = Outcome()
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(_client(k, port, request, deadline, out) for k in range(clients))
    )
    out.wall = time.perf_counter() - start
    return out


def drive(port: int, request: Request, clients: int, seconds: float) -> Outcome:
    return asyncio.run(_drive(port, request, clients, seconds))


def http(
    method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
    )
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    return head.encode() + b"\r\n" + data


# --- The server.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    settings: Settings, port: int, workers: int, secret: str, log: Any
) -> Any:
    env = {
        **os.environ,
        "CASESTREAM_DB": settings.db.get_secret_value(),
        "CASESTREAM_DB_SCHEMA": settings.db_schema,
        "CASESTREAM_JWT_SECRET": secret,
        "CASESTREAM_SIGNING_KEY_PATH": settings.signing_key_path,
        # Every worker holds its own pools (the app's, the access log's, and two
        # projection runners'): keep them small enough for max_connections = 100.
        "CASESTREAM_POOL_SIZE": str(max(2, 10 // workers)),
        "CASESTREAM_POOL_MAX_OVERFLOW": str(max(4, 20 // workers)),
        # Tables exist already (made by this process). Workers that each create them
        # at start-up race on the DDL and deadlock: run the service as a runtime role
        # without CREATE_TABLES, as docs/operations.md advises for production.
        "CASESTREAM_CREATE_TABLES": "false",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "casestream.api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as one below
    )


def stop_server(server: Any) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wait_ready(port: int, path: str, token: str, timeout: float = 120) -> None:
    """Until every worker answers ``path`` (a caseload: read models caught up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}",
                headers={"Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(req, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the API did not answer {path} in {timeout} s")


# --- Who the clients are: officers and their own cases.


@dataclass
class Officer:
    id: str
    token: str
    cases: list[UUID]  # the officer's active cases


def officers(settings: Settings, secret: str, clients: int) -> list[Officer]:
    """The store's officers with their active cases (from the caseload read model)."""
    from casestream.api.auth import mint_token

    storage = open_store(settings)
    view = open_view(storage, "caseload", storage.registry().generation("caseload"))
    by_officer: dict[tuple[str, str], list[UUID]] = {}
    for doc in view.select_docs():  # type: ignore[attr-defined]
        if doc["status"] == "active" and not doc.get("sealed"):
            by_officer.setdefault((doc["officer_id"], doc["unit_id"]), []).append(
                UUID(doc["probationer_id"])
            )
    _close(view)
    found = [  # officer tokens name the officer's unit
        Officer(o, mint_token(secret, o, "officer", unit=u), ids)
        for (o, u), ids in sorted(by_officer.items())
        if len(ids) >= 2
    ]
    return found[: max(clients, 1)]


class Workload:
    """Client k is officer k mod n; its writes go to cases only it writes to."""

    def __init__(self, staff: list[Officer], clients: int, health_token: str) -> None:
        self.staff = staff
        self.health_token = health_token
        self.mine: list[list[UUID]] = [[] for _ in range(clients)]
        for o_index, officer in enumerate(staff):
            sharers = [k for k in range(clients) if k % len(staff) == o_index]
            for i, case_id in enumerate(officer.cases):
                if sharers:
                    self.mine[sharers[i % len(sharers)]].append(case_id)
        self.run = secrets.token_hex(3)
        self.seq = itertools.count()  # contact ids never repeat, run after run

    def officer(self, k: int) -> Officer:
        return self.staff[k % len(self.staff)]

    def requests(self) -> dict[str, Request]:
        return {
            HEALTH: lambda k, n: http("GET", "/healthz", self.health_token),
            "GET /caseloads/{officer}": lambda k, n: http(
                "GET", f"/caseloads/{self.officer(k).id}", self.officer(k).token
            ),
            "GET /probationers/{id}": lambda k, n: http(
                "GET",
                f"/probationers/{self._case(k, n)}",
                self.officer(k).token,
            ),
            "POST /probationers/{id}/contacts": lambda k, n: http(
                "POST",
                f"/probationers/{self._case(k, n)}/contacts",
                self.officer(k).token,
                {
                    "contact_id": f"api-{self.run}-{next(self.seq)}",
                    "contact_type": "office",
                    "attendance": "attended",
                    "location": "North office",
                    "summary": "Reported as directed. Discussed the job search.",
                },
            ),
        }

    def _case(self, k: int, n: int) -> UUID:
        mine = self.mine[k] or self.officer(k).cases
        return mine[n % len(mine)]


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    secret = secrets.token_hex(32)
    results = []
    with pg_store() as settings:
        with CaseHistory(env=open_store(settings).env()) as app:
            fill_demo(app, args.events, months=36)
            head = app.recorder.max_notification_id() or 0
        _catch_up_views(settings)
        open_store(settings).access_log().close()  # creates its table
        staff = officers(settings, secret, args.clients)
        from casestream.api.auth import mint_token

        workload = Workload(staff, args.clients, mint_token(secret, "ops", "admin"))
        for workers in args.workers:
            _catch_up_views(settings)
            found = _serve_and_drive(args, settings, secret, workers, workload)
            pooled = {name: _pooled(outs) for name, outs in found.items()}
            base = pooled[HEALTH]
            results.append(
                {
                    "events": head,
                    "officers": len(staff),
                    "cases_per_officer": round(
                        sum(len(o.cases) for o in staff) / len(staff), 1
                    ),
                    "workers": workers,
                    "clients": args.clients,
                    "server_tracebacks": found_errors.get(workers, 0),
                    "endpoints": [
                        {
                            "endpoint": name,
                            **p,
                            "vs_healthz": ratio(p["ok_per_s"], base["ok_per_s"]),
                            "p50_x_healthz": ratio(p["p50_ms"], base["p50_ms"]),
                        }
                        for name, p in pooled.items()
                    ],
                }
            )
    return results


def _serve_and_drive(
    args: argparse.Namespace,
    settings: Settings,
    secret: str,
    workers: int,
    workload: Workload,
) -> dict[str, list[Outcome]]:
    found: dict[str, list[Outcome]] = {name: [] for name in ENDPOINTS}
    requests = workload.requests()
    port = free_port()
    log_path = results_dir(args.quick) / f"api-server-{workers}-workers.log"
    log = log_path.open("w")
    server = start_server(settings, port, workers, secret, log)
    try:
        officer = workload.staff[0]
        wait_ready(port, f"/caseloads/{officer.id}", officer.token)
        for request in requests.values():  # warm every worker up
            drive(port, request, args.clients, 1.0)
        for round_ in range(args.rounds):
            for name, request in requests.items():
                out = drive(port, request, args.clients, args.seconds)
                found[name].append(out)
                console.print(
                    f"[dim]{workers} workers, round {round_ + 1}: {name:<34} "
                    f"{out.ok / out.wall:>8,.0f} ok/s {dict(out.statuses)}[/]"
                )
    finally:
        stop_server(server)
        log.close()
    errors = log_path.read_text().count("Traceback")
    if errors:
        console.print(
            f"[yellow]{workers} workers: the server logged {errors} tracebacks; "
            f"see {log_path}[/]"
        )
    found_errors[workers] = errors
    return found


def _catch_up_views(settings: Settings) -> None:
    """Bring the read models to the head before a server starts.

    Each uvicorn worker runs the projections in-process; workers that start with a lag
    all catch up at once and collide on the tracking rows (the start-up fails). So the
    benchmark starts them with none.
    """
    storage = open_store(settings)
    with CaseHistory(env=storage.env()) as app:
        for name in READ_MODELS:
            view = open_view(storage, name, storage.registry().generation(name))
            catch_up(app, view)
            _close(view)


def _close(view: Any) -> None:
    datastore = getattr(view, "datastore", None)
    if datastore is not None and hasattr(datastore, "close"):
        datastore.close()


def _pooled(outs: list[Outcome]) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    for o in outs:
        statuses.update(o.statuses)
    ok = sum(o.ok for o in outs)
    wall = sum(o.wall for o in outs)
    return {
        "requests": sum(statuses.values()),
        "ok_per_s": round(ok / wall, 1),
        "errors": sum(n for s, n in statuses.items() if not 200 <= s < 300),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        **summary_ms([x for o in outs for x in o.latencies]),
    }


def show(results: list[dict[str, Any]]) -> None:
    for result in results:
        table = Table(
            title=f"API under load: {result['clients']} clients, uvicorn with "
            f"{result['workers']} workers; {result['events']:,} events, "
            f"{result['officers']} officers (~{result['cases_per_officer']} active "
            "cases each)"
        )
        for c in (
            "endpoint",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "vs healthz",
            "p50 x",
        ):
            table.add_column(c, justify="left" if c == "endpoint" else "right")
        for r in result["endpoints"]:
            table.add_row(
                r["endpoint"],
                fmt_rate(r["ok_per_s"]),
                fmt_ms(r["p50_ms"]),
                fmt_ms(r["p99_ms"]),
                str(r["errors"]),
                f"{r['vs_healthz']:.3f}",
                f"{r['p50_x_healthz']:.1f}",
            )
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--workers",
        default=f"1,{RECOMMENDED_WORKERS}",
        help="uvicorn worker counts to run, comma-separated (default: 1 and the "
        "usual (2 x cores) + 1, at most 5)",
    )
    args = parser.parse_args()
    args.workers = [int(w) for w in str(args.workers).split(",")]
    if args.quick:
        args.seconds, args.rounds, args.events = 2.0, 1, 5_000
    result = run(args)
    show(result)
    write_results("api", args, result)


if __name__ == "__main__":
    main()
