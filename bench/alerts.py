"""Alerts: one evaluator pass over every case, as a ratio to reading their caseload rows.

The store is filled with the demo caseload (10,000 people by default), the caseload read
model caught up, then, on the same rows:

- baseline: reading every caseload row as a list presents it (``query_caseload`` over
  all officers, closed cases included);
- first pass: the evaluator's pass that raises every alert due today (each case with a
  difference is loaded and told to evaluate itself: one command per case);
- steady pass: the next pass, after the read model has caught up: nothing new is due,
  so it only reads the rows and applies the rules (the cost paid every minute).

Each is reported in seconds and as a multiple of the baseline. Usage:
``python -m bench.alerts [--cases N] [--store sqlite|postgres|both] [--quick]``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from functools import partial
from typing import Any

from rich.progress import Progress
from rich.table import Table

from bench.common import console, ratio, store, timed, write_results
from casestream.alerting import AlertEvaluator, Pass
from casestream.application import CaseHistory
from casestream.demo import load_demo
from casestream.persistence.store import open_store
from casestream.projections.caseload import CaseloadView, query_caseload
from casestream.projections.runner import catch_up, close_view, open_view

MONTHS = 12  # a year of history per person


def read_rows(view: CaseloadView) -> int:
    """The baseline: every case's row, as a caseload list presents it."""
    return len(query_caseload(view, include_closed=True))


def run(kind: str, cases: int) -> dict[str, Any]:
    with store(kind) as settings:
        chosen = open_store(settings)
        with CaseHistory(env=chosen.env()) as app:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(
                    f"demo caseload, {cases:,} people", total=cases
                )
                load_demo(
                    app,
                    cases,
                    seed=7,
                    months=MONTHS,
                    batch=True,
                    progress=lambda n: progress.advance(task, n),
                )
            view = open_view(chosen, "caseload", 1)
            try:
                assert isinstance(view, CaseloadView)
                catch_up(app, view)
                rows = read_rows(view)
                base = min(timed(partial(read_rows, view)) for _ in range(3))
                evaluator = AlertEvaluator(app, lambda: view)
                now = datetime.now(UTC)
                first: list[Pass] = []
                first_seconds = timed(lambda: first.append(evaluator.run_once(now)))
                catch_up(app, view)
                steady: list[Pass] = []
                steady_seconds = min(
                    timed(lambda: steady.append(evaluator.run_once(now)))
                    for _ in range(3)
                )
            finally:
                close_view(view)
            events = app.recorder.max_notification_id() or 0
        results = {
            "store": kind,
            "cases": rows,
            "events": events,
            "baseline_read_rows_s": round(base, 4),
            "first_pass_s": round(first_seconds, 3),
            "first_pass_cases_evaluated": len(first[0].evaluated),
            "first_pass_vs_baseline": ratio(first_seconds, base),
            "steady_pass_s": round(steady_seconds, 4),
            "steady_pass_cases_evaluated": len(steady[-1].evaluated),
            "steady_pass_vs_baseline": ratio(steady_seconds, base),
        }
        console.print(f"[dim]{kind}: {results}[/]")
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument(
        "--store", choices=["sqlite", "postgres", "both"], default="both"
    )
    parser.add_argument("--quick", action="store_true", help="300 cases")
    args = parser.parse_args()
    if args.quick:
        args.cases = 300
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    found = [run(s, args.cases) for s in stores]

    table = Table(title=f"Alert evaluator over {args.cases:,} cases")
    for column in (
        "store",
        "read rows s",
        "first pass s",
        "vs rows",
        "steady pass s",
        "vs rows",
    ):
        table.add_column(column, justify="right")
    for r in found:
        table.add_row(
            r["store"],
            f"{r['baseline_read_rows_s']:.3f}",
            f"{r['first_pass_s']:.2f}",
            f"{r['first_pass_vs_baseline']:.1f}",
            f"{r['steady_pass_s']:.3f}",
            f"{r['steady_pass_vs_baseline']:.2f}",
        )
    console.print(table)
    write_results("alerts", args, found)


if __name__ == "__main__":
    main()
