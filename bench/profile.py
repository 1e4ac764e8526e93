"""Where a command's time goes: the append (one command = bring the case up to date,
run the command, save one event) against a raw INSERT. This profiles it on
PostgreSQL three ways:

1. pyinstrument over a run of commands (text report in ``bench/results/``);
2. the command split into the stages ``CaseHistory.execute`` takes, each timed
   directly (no profiler overhead), beside the full checked load an uncached case
   needs instead of the first stage;
3. what-ifs, each in its own process, against the unchanged path in the same run:
   ``python -O``, ``POSTGRES_PRE_PING=y`` (a round trip to test each pooled
   connection before use, as before issue #12) and no case cache.

Then the slowest API read against its baseline, ``GET /caseloads/{officer}``, step by
step as the route takes them (without HTTP), on a store of 100,000 demo events.

Usage: ``python -m bench.profile [--quick] [--commands N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from rich.table import Table

from bench.common import (
    CONTACT,
    OFFICER,
    console,
    log_contact,
    open_case,
    pg_store,
    ratio,
    results_dir,
    write_results,
)
from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.persistence.store import open_store

CASES = 4
WHAT_IFS: dict[str, tuple[list[str], dict[str, str]]] = {
    "as shipped": ([], {}),
    "python -O": (["-O"], {}),
    "POSTGRES_PRE_PING=y (as before #12)": ([], {"POSTGRES_PRE_PING": "y"}),
    "no case cache (CASE_CACHE_SIZE=0)": ([], {"CASE_CACHE_SIZE": "0"}),
}


def prepared(app: CaseHistory, warm: int) -> list[Any]:
    """Cases with some history (and a snapshot), as a busy caseload has."""
    ids = [open_case(app, k) for k in range(CASES)]
    for n in range(warm):
        log_contact(app, ids[n % CASES], f"w{n}")
    return ids


def worker(commands: int, extra_env: dict[str, str]) -> dict[str, float]:
    """Per-command milliseconds (median of 5 slices) in this process, this env."""
    with (
        pg_store() as settings,
        CaseHistory(env={**open_store(settings).env(), **extra_env}) as app,
    ):
        ids = prepared(app, 120)
        slices = []
        per = max(commands // 5, 1)
        for s in range(5):
            start = time.perf_counter()
            for n in range(per):
                log_contact(app, ids[n % CASES], f"x{s}-{n}")
            slices.append((time.perf_counter() - start) / per)
    return {"ms_per_command": round(statistics.median(slices) * 1000, 3)}


def what_ifs(commands: int, rounds: int) -> list[dict[str, Any]]:
    found: dict[str, list[float]] = {name: [] for name in WHAT_IFS}
    for _ in range(rounds):
        for name, (flags, env) in WHAT_IFS.items():
            out = subprocess.run(
                [
                    sys.executable,
                    *flags,
                    "-m",
                    "bench.profile",
                    "--worker",
                    "--commands",
                    str(commands),
                    "--env",
                    json.dumps(env),
                ],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": os.getcwd()},
            )
            found[name].append(
                json.loads(out.stdout.strip().splitlines()[-1])["ms_per_command"]
            )
    shipped = statistics.median(found["as shipped"])
    return [
        {
            "variant": name,
            "ms_per_command": round(statistics.median(v), 3),
            "commands_per_s": round(1000 / statistics.median(v)),
            "vs_as_shipped": ratio(shipped, statistics.median(v)),
        }
        for name, v in found.items()
    ]


def stages(app: CaseHistory, ids: list[Any], commands: int) -> list[dict[str, Any]]:
    """Each stage of the command path as ``CaseHistory.execute`` takes it, timed on
    its own (medians over ``commands``), and, beside it, the full checked load a
    command on an uncached case makes instead of the first stage."""
    parts: dict[str, list[float]] = {
        "cached case brought to the head (1 statement, rows checked)": [],
        "run the command (domain rules)": [],
        "save: one statement (key, lock, insert, commit)": [],
    }
    full: list[float] = []
    replayed: list[int] = []
    for n in range(commands):
        case_id = ids[n % CASES]
        t0 = time.perf_counter()
        case, checked = app._writable(case_id)
        t1 = time.perf_counter()
        case.execute(cmd.LogContact(contact_id=f"s{n}", **CONTACT), OFFICER)
        t2 = time.perf_counter()
        app.save(case)
        app._keep(case, checked)
        t3 = time.perf_counter()
        loaded = app.load_case(case_id)
        t4 = time.perf_counter()
        full.append(t4 - t3)
        replayed.append(len(loaded.recorded) - 1)
        for name, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            parts[name].append(seconds)
    total = sum(statistics.median(v) for v in parts.values())
    rows = [
        {
            "stage": name,
            "median_ms": round(statistics.median(v) * 1000, 3),
            "share": round(statistics.median(v) / total, 3),
            "events_replayed_mean": round(statistics.fmean(replayed), 1),
        }
        for name, v in parts.items()
    ]
    rows.append(
        {
            "stage": "for comparison: full checked load (snapshot + rows), uncached",
            "median_ms": round(statistics.median(full) * 1000, 3),
            "share": round(statistics.median(full) / total, 3),
            "events_replayed_mean": round(statistics.fmean(replayed), 1),
        }
    )
    return rows


def profile_text(app: CaseHistory, ids: list[Any], commands: int) -> str:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for n in range(commands):
        log_contact(app, ids[n % CASES], f"p{n}")
    profiler.stop()
    tree = profiler.output_text(unicode=False, color=False, show_all=False)
    flat = profiler.output_text(unicode=False, color=False, flat=True)
    flat_top = "\n".join(flat.splitlines()[:45])
    return f"{tree}\n\nSelf time by function (flat, top):\n{flat_top}\n"


def caseload_stages(events: int, repeats: int, quick: bool) -> dict[str, Any]:
    """The slowest API read, ``GET /caseloads/{officer}``, step by step as the route
    takes them (without HTTP): token, read model rows and their presentation, scope,
    sealed cases, the access log of every case listed, positions, response model."""
    import secrets
    from uuid import UUID

    from pyinstrument import Profiler

    from bench.api import _catch_up_views, officers
    from bench.common import fill_demo
    from casestream.access_log import AccessAttempt, AccessOutcome
    from casestream.api.auth import covers_case, read_token
    from casestream.api.schemas import Caseload, CaseloadRow
    from casestream.projections.caseload import listed, present, visible
    from casestream.projections.runner import open_view
    from casestream.projections.sealed import sealed_cases

    secret = secrets.token_hex(32)
    parts: dict[str, list[float]] = {
        "verify the bearer token": [],
        "read the officer's rows (jsonb)": [],
        "present each row (due dates, flags)": [],
        "scope and sealed cases": [],
        "access log: one row per case listed": [],
        "store head and read-model position": [],
        "response model and JSON": [],
    }
    with pg_store() as settings:
        with CaseHistory(env=open_store(settings).env()) as app:
            fill_demo(app, events, months=36)
        _catch_up_views(settings)
        officer = officers(settings, secret, 1)[0]
        storage = open_store(settings)
        generation = storage.registry().generation("caseload")
        view: Any = open_view(storage, "caseload", generation)
        sealed_view: Any = open_view(
            storage, "sealed", storage.registry().generation("sealed")
        )
        log = storage.access_log()
        profiler = Profiler(interval=0.0005)
        with CaseHistory(env=open_store(settings).env()) as cases:
            profiler.start()
            for _ in range(repeats):
                t0 = time.perf_counter()
                who = read_token(secret, officer.token)
                t1 = time.perf_counter()
                docs = view.select_docs(officer.id, None)
                t2 = time.perf_counter()
                rows = [present(d, None) for d in visible(docs)]
                rows = [r for r in rows if r["status"] == "active"]
                t3 = time.perf_counter()
                hidden = sealed_cases(sealed_view, cases)
                rows = [
                    r
                    for r in rows
                    if covers_case(
                        who, UUID(r["probationer_id"]), r["officer_id"], r["unit_id"]
                    )
                    and UUID(r["probationer_id"]) not in hidden
                ]
                t4 = time.perf_counter()
                log.record_many(
                    [
                        AccessAttempt(
                            user_id=who.user,
                            role=who.role.value,
                            probationer_id=UUID(r["probationer_id"]),
                            endpoint="/caseloads/{officer_id}",
                            outcome=AccessOutcome.ALLOWED,
                            query="",
                        )
                        for r in rows
                    ]
                )
                t5 = time.perf_counter()
                cases.recorder.max_notification_id()
                position = view.max_tracking_id(cases.name) or 0
                t6 = time.perf_counter()
                Caseload(
                    officer_id=officer.id,
                    position=position,
                    lag=0,
                    items=[CaseloadRow(**listed(r)) for r in rows],
                    next=None,
                ).model_dump_json()
                t7 = time.perf_counter()
                for name, seconds in zip(
                    parts,
                    (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6),
                    strict=True,
                ):
                    parts[name].append(seconds)
            profiler.stop()
        log.close()
        doc_bytes = statistics.fmean(len(json.dumps(d, default=str)) for d in docs)
    (results_dir(quick) / "profile-caseload.txt").write_text(
        profiler.output_text(unicode=False, color=False, show_all=False)
    )
    total = sum(statistics.median(v) for v in parts.values())
    return {
        "rows": len(rows),
        "mean_doc_bytes": round(doc_bytes),
        "stages": [
            {
                "stage": name,
                "median_ms": round(statistics.median(v) * 1000, 3),
                "share": round(statistics.median(v) / total, 3),
            }
            for name, v in parts.items()
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--caseload-events", type=int, default=100_000)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--env", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.commands, json.loads(args.env))))
        return
    if args.quick:
        args.commands, args.rounds, args.caseload_events = 100, 1, 5_000
    with pg_store() as settings, CaseHistory(env=open_store(settings).env()) as app:
        ids = prepared(app, 120)
        split = stages(app, ids, args.commands)
        text = profile_text(app, ids, args.commands)
    report = results_dir(args.quick) / "profile-append.txt"
    report.write_text(text)
    console.print(f"[dim]pyinstrument report: {report}[/]")
    variants = what_ifs(args.commands, args.rounds)
    caseload = caseload_stages(
        args.caseload_events, 30 if args.quick else 200, args.quick
    )

    table = Table(title="One command on PostgreSQL, stage by stage (medians)")
    for c in ("stage", "ms", "share"):
        table.add_column(c, justify="left" if c == "stage" else "right")
    for r in split:
        table.add_row(r["stage"], f"{r['median_ms']:.3f}", f"{r['share']:.0%}")
    console.print(table)
    console.print(
        f"[dim]events replayed per load (snapshot + events after it): "
        f"{split[0]['events_replayed_mean']}[/]"
    )
    table = Table(title="What-ifs, each in its own process (same run)")
    for c in ("variant", "ms/command", "commands/s", "vs as shipped"):
        table.add_column(c, justify="left" if c == "variant" else "right")
    for r in variants:
        table.add_row(
            r["variant"],
            f"{r['ms_per_command']:.3f}",
            f"{r['commands_per_s']:,}",
            f"{r['vs_as_shipped']:.2f}",
        )
    console.print(table)
    table = Table(
        title=f"GET /caseloads/{{officer}} without HTTP, step by step: "
        f"{caseload['rows']} rows, ~{caseload['mean_doc_bytes']:,} bytes of JSON each"
    )
    for c in ("step", "ms", "share"):
        table.add_column(c, justify="left" if c == "step" else "right")
    for r in caseload["stages"]:
        table.add_row(r["stage"], f"{r['median_ms']:.3f}", f"{r['share']:.0%}")
    console.print(table)
    write_results(
        "profile",
        args,
        {"stages": split, "what_ifs": variants, "caseload": caseload},
    )


if __name__ == "__main__":
    main()
