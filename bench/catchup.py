"""Projection catch-up speed: events per second rebuilding each read model from 0.

Baseline, measured in the same run on the same rows: reading and deserialising the
notifications without projecting. Figures are reported as ratios to it, because these
machines are noisy. Usage: ``python bench/catchup.py [--events N] [--store sqlite|postgres]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from casestream.application import CaseHistory
from casestream.domain.values import Actor
from casestream.projections.runner import READ_MODELS, catch_up, open_view
from casestream.settings import Settings

OFFICER = Actor("officer-bench", "officer")
PG_DSN = "postgresql://postgres@127.0.0.1:5432/casestream_test"


def fill(app: CaseHistory, events: int, per_case: int = 100) -> None:
    """Write ``events`` events: cases of ``per_case`` entries, one transaction per case."""
    opened = datetime.now(UTC) - timedelta(days=400)
    for n in range(events // per_case):
        case = _open(n, opened)
        for k in range(per_case - 1):
            at = opened + timedelta(days=1 + k * 3, hours=k % 7)
            if k % 10 == 9:
                case.record_drug_test(
                    actor=OFFICER,
                    test_id=f"t{k}",
                    method="oral_fluid",
                    results={"thc": "negative"},
                    effective_at=at,
                )
            else:
                case.log_contact(
                    actor=OFFICER,
                    contact_id=f"k{k}",
                    contact_type="office",
                    attendance="attended",
                    location="District office",
                    summary="Reported as directed",
                    effective_at=at,
                )
        app.save(case)


def _open(n: int, opened: datetime) -> Any:
    from casestream.domain.probationer import Probationer

    return Probationer.open(
        actor=OFFICER,
        person={"name": f"Person {n}"},
        offences=[{"code": "X"}],
        court_order={"court": "Bench court", "case_number": f"B-{n}"},
        supervision_type="probation",
        term_start=opened.date(),
        term_end=None,
        conditions=[],
        officer_id=f"officer-{n % 40}",
        unit_id=f"unit-{n % 5}",
        effective_at=opened,
    )


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


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(store: str, events: int) -> dict[str, Any]:
    if store == "postgres":
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        settings = Settings(db=PG_DSN, db_schema=schema)  # type: ignore[arg-type]
    else:
        folder = tempfile.mkdtemp()
        settings = Settings(db=f"sqlite:///{folder}/bench.db")  # type: ignore[arg-type]
    try:
        with CaseHistory(env=settings.eventsourcing_env()) as app:
            fill_seconds = timed(lambda: fill(app, events))
            head = app.recorder.max_notification_id() or 0
            base = timed(lambda: baseline(app))
            results: dict[str, Any] = {
                "store": store,
                "events": head,
                "fill_events_per_s": round(head / fill_seconds),
                "baseline_events_per_s": round(head / base),
            }
            for name in READ_MODELS:
                view = open_view(settings, name, 1)
                seconds = timed(lambda v=view: catch_up(app, v, batch_size=1000))
                results[f"{name}_events_per_s"] = round(head / seconds)
                results[f"{name}_vs_baseline"] = round(base / seconds, 3)
    finally:
        if store == "postgres":
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--store", choices=["sqlite", "postgres", "both"], default="both"
    )
    args = parser.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    found = [run(s, args.events) for s in stores]
    table = Table(
        title=f"Projection catch-up, {args.events:,} events (batches of 1,000)"
    )
    for column in (
        "store",
        "baseline ev/s",
        "caseload ev/s",
        "vs baseline",
        "audit ev/s",
        "vs baseline",
    ):
        table.add_column(column)
    for r in found:
        table.add_row(
            r["store"],
            f"{r['baseline_events_per_s']:,}",
            f"{r['caseload_events_per_s']:,}",
            f"{r['caseload_vs_baseline']}",
            f"{r['audit_events_per_s']:,}",
            f"{r['audit_vs_baseline']}",
        )
    Console().print(table)
    out = Path(__file__).parent / "results" / "catchup.json"
    out.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpu_count": os.cpu_count(),
                    "platform": platform.platform(),
                },
                "at": datetime.now(UTC).isoformat(),
                "results": found,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
