"""Projection catch-up speed: events per second rebuilding each read model from 0.

The store is filled with the realistic demo caseload (``load_demo(batch=True)``: each
person's history built in memory and saved many cases per transaction), which is also
timed, beside a sample written one command per transaction (the old demo path).

Baseline, measured in the same run on the same rows: reading and deserialising the
notifications without projecting. Figures are reported as ratios to it, because these
machines are noisy. Usage:
``python -m bench.catchup [--events N] [--store sqlite|postgres|both] [--quick]``.
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

from rich.progress import Progress
from rich.table import Table

from bench.common import (
    console,
    events_per_person,
    fill_demo,
    fmt_rate,
    ratio,
    store,
    timed,
    write_results,
)
from casestream.application import CaseHistory
from casestream.demo import load_demo
from casestream.persistence.store import open_store
from casestream.projections.runner import READ_MODELS, catch_up, open_view
from casestream.settings import Settings

MONTHS = 36  # three years of history per agency


def baseline(app: CaseHistory, batch: int = 1000) -> int:
    """Read and deserialise every notification, projecting nothing."""
    position, count = 0, 0
    while True:
        notifications = app.recorder.select_notifications(
            position, batch, inclusive_of_start=False
        )
        if not notifications:
            return count
        for n in notifications:
            app.mapper.to_domain_event(n)
        count += len(notifications)
        position = notifications[-1].id


def one_by_one_rate(kind: str, people: int) -> float:
    """Events per second of the demo written one command per transaction (a sample)."""
    with store(kind) as settings, CaseHistory(env=open_store(settings).env()) as app:
        seconds = timed(lambda: load_demo(app, people, seed=2, months=MONTHS))
        return (app.recorder.max_notification_id() or 0) / seconds


def fill(app: CaseHistory, events: int) -> None:
    people = round(events / events_per_person(MONTHS))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"demo caseload, ~{people:,} people", total=people)
        fill_demo(
            app, events, months=MONTHS, progress=lambda n: progress.advance(task, n)
        )


def run(kind: str, events: int, sample_people: int) -> dict[str, Any]:
    with store(kind) as settings:
        return _run(kind, settings, events, sample_people)


def _run(kind: str, settings: Settings, events: int, people: int) -> dict[str, Any]:
    events_per_person(MONTHS)  # calibrate before the clock starts
    with CaseHistory(env=open_store(settings).env()) as app:
        fill_seconds = timed(lambda: fill(app, events))
        head = app.recorder.max_notification_id() or 0
        slow = one_by_one_rate(kind, people)
        base = timed(lambda: baseline(app))
        results: dict[str, Any] = {
            "store": kind,
            "events": head,
            "fill_seconds": round(fill_seconds, 1),
            "fill_events_per_s": round(head / fill_seconds),
            "one_by_one_events_per_s": round(slow),
            "fill_vs_one_by_one": ratio(head / fill_seconds, slow),
            "baseline_events_per_s": round(head / base),
        }
        for name in READ_MODELS:
            view = open_view(open_store(settings), name, 1)
            seconds = timed(partial(catch_up, app, view, batch_size=1000))
            results[f"{name}_events_per_s"] = round(head / seconds)
            results[f"{name}_vs_baseline"] = ratio(base, seconds)
        console.print(
            f"[dim]{kind}: {head:,} events, caseload "
            f"{results['caseload_events_per_s']:,}/s, audit {results['audit_events_per_s']:,}/s[/]"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--store", choices=["sqlite", "postgres", "both"], default="both"
    )
    parser.add_argument(
        "--sample-people",
        type=int,
        default=25,
        help="people written one command at a time, for the demo's speed-up",
    )
    parser.add_argument("--quick", action="store_true", help="20,000 events")
    args = parser.parse_args()
    if args.quick:
        args.events, args.sample_people = 20_000, 5
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    found = [run(s, args.events, args.sample_people) for s in stores]

    table = Table(title=f"Demo fill, ~{args.events:,} events ({MONTHS} months)")
    for column in ("store", "events", "seconds", "batch ev/s", "1-by-1 ev/s", "ratio"):
        table.add_column(column, justify="right")
    for r in found:
        table.add_row(
            r["store"],
            f"{r['events']:,}",
            f"{r['fill_seconds']:,}",
            fmt_rate(r["fill_events_per_s"]),
            fmt_rate(r["one_by_one_events_per_s"]),
            f"{r['fill_vs_one_by_one']:.1f}",
        )
    console.print(table)
    table = Table(title="Projection catch-up from 0 (batches of 1,000)")
    for column in (
        "store",
        "baseline ev/s",
        "caseload ev/s",
        "vs baseline",
        "audit ev/s",
        "vs baseline",
    ):
        table.add_column(column, justify="right")
    for r in found:
        table.add_row(
            r["store"],
            fmt_rate(r["baseline_events_per_s"]),
            fmt_rate(r["caseload_events_per_s"]),
            f"{r['caseload_vs_baseline']:.3f}",
            fmt_rate(r["audit_events_per_s"]),
            f"{r['audit_vs_baseline']:.3f}",
        )
    console.print(table)
    write_results("catchup", args, found)


if __name__ == "__main__":
    main()
