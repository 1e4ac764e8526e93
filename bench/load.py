"""Loading a case, and answering "as recorded at T", for cases of 100, 1,000 and 10,000
events, with snapshots (CaseHistory takes one every 50 versions) and without (a
subclass with ``snapshotting_intervals = {}``, which replays every event).

Baseline, measured in the same run on the same rows: one plain driver ``SELECT`` of the
case's rows (for "as recorded at T": of its rows recorded by T), no library, no objects.
Usage: ``python -m bench.load [--quick] [--store sqlite|postgres|both] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from rich.table import Table

from bench.common import (
    CONTACT,
    OFFICER,
    NoSnapshots,
    RawReader,
    case_command,
    console,
    fmt_ms,
    ratio,
    store,
    timed,
    write_results,
)
from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.probationer import Probationer
from casestream.domain.values import DrugTestMethod, DrugTestResult
from casestream.persistence.store import open_store

SIZES = (100, 1_000, 10_000)


def build_case(app: CaseHistory, events: int, chunk: int = 500) -> UUID:
    """One case of ``events`` events (contacts, every tenth a drug test), saved in
    chunks; CaseHistory takes its snapshots as it saves."""
    now = datetime.now(UTC)
    opened = now - timedelta(days=1100)
    step = timedelta(days=1000) / events
    case = Probationer.open(
        case_command(f"Long Case {events}", f"CR-L-{events}", opened), OFFICER
    )
    for k in range(1, events):
        at = opened + step * k
        if k % 10 == 0:
            case.execute(
                cmd.RecordDrugTest(
                    test_id=f"t{k}",
                    method=DrugTestMethod.URINE_INSTANT,
                    results={
                        "opiates": DrugTestResult.NEGATIVE,
                        "thc": DrugTestResult.NEGATIVE,
                    },
                    effective_at=at,
                ),
                OFFICER,
            )
        else:
            case.execute(
                cmd.LogContact(contact_id=f"k{k}", effective_at=at, **CONTACT), OFFICER
            )
        if k % chunk == 0:
            app.save(case)
    app.save(case)
    return case.id


def run(kind: str, repeats: int, sizes_: tuple[int, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    sizes: dict[int, dict[str, Any]] = {}
    with (
        store(kind) as settings,
        CaseHistory(env=open_store(settings).env()) as app,
        NoSnapshots(env=open_store(settings).env()) as plain,
    ):
        raw = RawReader(settings)
        try:
            for size in sizes_:
                case_id = build_case(app, size)
                times = app.store.recorded_times(case_id)
                middle = times[size // 2]
                assert app.get_case(case_id).version == size
                assert plain.get_case(case_id).version == size
                assert len(raw.case_rows(case_id)) == size
                snapshots = (
                    list(app.snapshots.recorder.select_events(case_id))
                    if app.snapshots
                    else []
                )
                sizes[size] = {
                    "snapshots": len(snapshots),
                    "latest_snapshot_kb": round(len(snapshots[-1].state) / 1024, 1)
                    if snapshots
                    else 0,
                    "all_snapshots_mb": round(
                        sum(len(s.state) for s in snapshots) / 2**20, 2
                    ),
                    "events_mb": round(
                        sum(len(r[3]) for r in raw.case_rows(case_id)) / 2**20, 2
                    ),
                }
                ops: dict[str, Callable[[], Any]] = {
                    "SELECT all rows (baseline)": partial(raw.case_rows, case_id),
                    "load, snapshots": partial(app.get_case, case_id),
                    "load, no snapshots": partial(plain.get_case, case_id),
                    "SELECT rows to T (baseline)": partial(
                        raw.case_rows_until, case_id, middle
                    ),
                    "as recorded at T, snapshots": partial(
                        app.case_as_recorded_at, case_id, middle
                    ),
                    "as recorded at T, no snapshots": partial(
                        plain.case_as_recorded_at, case_id, middle
                    ),
                }
                samples: dict[str, list[float]] = {name: [] for name in ops}
                for op in ops.values():  # warm up: prepared statements, caches
                    op()
                for _ in range(repeats):  # interleaved, so noise hits all alike
                    for name, op in ops.items():
                        samples[name].append(timed(op))
                medians = {k: statistics.median(v) for k, v in samples.items()}
                for name, median in medians.items():
                    base = (
                        medians["SELECT all rows (baseline)"]
                        if name.startswith(("SELECT all", "load"))
                        else medians["SELECT rows to T (baseline)"]
                    )
                    rows.append(
                        {
                            "store": kind,
                            "events": size,
                            "operation": name,
                            "median_ms": round(median * 1000, 3),
                            "min_ms": round(min(samples[name]) * 1000, 3),
                            "x_baseline_time": ratio(median, base),
                            **sizes[size],
                        }
                    )
                console.print(
                    f"[dim]{kind} {size:>6,} events: load {medians['load, snapshots'] * 1000:.1f} ms "
                    f"(no snapshots {medians['load, no snapshots'] * 1000:.1f} ms)[/]"
                )
        finally:
            raw.close()
    return rows


def show(rows: list[dict[str, Any]]) -> None:
    for kind in dict.fromkeys(r["store"] for r in rows):
        mine = [r for r in rows if r["store"] == kind]
        sizes = list(dict.fromkeys(r["events"] for r in mine))
        table = Table(title=f"Load a case, and 'as recorded at T' (middle), on {kind}")
        table.add_column("operation (median)")
        for size in sizes:
            table.add_column(f"{size:,} ev ms", justify="right")
            table.add_column("x baseline", justify="right")
        for name in dict.fromkeys(r["operation"] for r in mine):
            cells = []
            for size in sizes:
                [r] = [
                    r for r in mine if r["events"] == size and r["operation"] == name
                ]
                cells += [fmt_ms(r["median_ms"]), f"{r['x_baseline_time']:.2f}"]
            table.add_row(name, *cells)
        console.print(table)
    table = Table(title="What a long case stores (snapshots every 50 versions)")
    for c in ("store", "events", "events MB", "snapshots", "latest KB", "all MB"):
        table.add_column(c, justify="right")
    for r in rows:
        if r["operation"].startswith("load, snapshots"):
            table.add_row(
                r["store"],
                f"{r['events']:,}",
                f"{r['events_mb']:.2f}",
                str(r["snapshots"]),
                f"{r['latest_snapshot_kb']:,.1f}",
                f"{r['all_snapshots_mb']:,.1f}",
            )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--store", choices=["sqlite", "postgres", "both"], default="both"
    )
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    args.sizes = SIZES
    if args.quick:
        args.repeats, args.sizes = 3, SIZES[:2]
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    rows = [r for kind in kinds for r in run(kind, args.repeats, args.sizes)]
    show(rows)
    write_results("load", args, rows)


if __name__ == "__main__":
    main()
