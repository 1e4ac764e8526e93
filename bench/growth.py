"""Growth: the cost of each operation as the store grows to 10,000, 100,000 and
1,000,000 events. It must stay flat (or grow like an index lookup, logarithmically).

At each size the store is topped up with the demo caseload (every top-up with its own
officers, so caseloads stay ~70 cases), the read models are caught up, and then, on
cases picked at random from the whole store:

- append: one command (load, log a contact, save);
- load: the current case; as recorded at T: the case at the middle of its history;
- caseload: an officer's caseload from the read model; audit: one case's audit rows.

Baseline, measured at the same size in the same run: a plain driver SELECT of one
random case's rows. Each cost is reported as p50/p99, as a multiple of that baseline,
and as a multiple of its own cost at the smallest size (flat = 1). Writes
``docs/growth.png``. Usage: ``python -m bench.growth [--quick] [--store ...]``.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.progress import Progress
from rich.table import Table

from bench.common import (
    RawReader,
    console,
    events_per_person,
    fill_demo,
    fmt_ms,
    log_contact,
    ratio,
    results_dir,
    store,
    summary_ms,
    timed,
    write_results,
)
from casestream.application import CaseHistory
from casestream.domain.errors import CaseError
from casestream.persistence.store import open_store
from casestream.projections.audit import AuditQuery, AuditView
from casestream.projections.caseload import CaseloadView, query_caseload
from casestream.projections.runner import catch_up, open_view
from casestream.settings import Settings

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (5_000, 20_000)
MONTHS = 36
PLOT = Path(__file__).resolve().parent.parent / "docs" / "growth.png"
OPERATIONS = (
    "SELECT case rows (baseline)",
    "append (command)",
    "load case",
    "as recorded at T",
    "officer caseload",
    "audit of a case",
)


class Probe:
    """The operations, on random cases and officers of the store as it stands."""

    def __init__(
        self,
        app: CaseHistory,
        raw: RawReader,
        caseload: CaseloadView,
        audit: AuditView,
        rng: random.Random,
    ) -> None:
        self.app, self.raw, self.caseload, self.audit = app, raw, caseload, audit
        self.rng = rng
        docs = caseload.select_docs()
        self.active = [
            UUID(d["probationer_id"]) for d in docs if d["status"] == "active"
        ]
        self.all = [UUID(d["probationer_id"]) for d in docs]
        self.officers = sorted({d["officer_id"] for d in docs})
        self.n = 0

    def ops(self) -> dict[str, Callable[[], Any]]:
        return {
            "SELECT case rows (baseline)": lambda: self.raw.case_rows(self.case()),
            "append (command)": self.append,
            "load case": lambda: self.app.get_case(self.case()),
            "as recorded at T": self.as_recorded,
            "officer caseload": lambda: query_caseload(
                self.caseload, officer_id=self.rng.choice(self.officers)
            ),
            "audit of a case": lambda: self.audit.query(
                AuditQuery(originator_id=str(self.case()), limit=10_000)
            ),
        }

    def case(self) -> UUID:
        return self.rng.choice(self.all)

    def append(self) -> None:
        self.n += 1
        # A case closed since the list was made refuses: rare, and it cost a load.
        with contextlib.suppress(CaseError):
            log_contact(self.app, self.rng.choice(self.active), f"g{self.n}")

    def as_recorded(self) -> None:
        case_id = self.case()
        times = sorted(self.app.store.recorded_times(case_id).values())
        self.app.case_as_recorded_at(case_id, times[len(times) // 2])


def measure(probe: Probe, samples: int) -> dict[str, list[float]]:
    ops = probe.ops()
    for op in ops.values():  # warm up
        op()
    found: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(samples):  # interleaved, so noise hits every operation alike
        for name, op in ops.items():
            found[name].append(timed(op))
    return found


def run(kind: str, sizes: tuple[int, ...], samples: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rng = random.Random(42)
    events_per_person(MONTHS)
    with store(kind) as settings, CaseHistory(env=open_store(settings).env()) as app:
        views = _views(settings)
        raw = RawReader(settings)
        try:
            for n, size in enumerate(sizes):
                with Progress(console=console, transient=True) as progress:
                    task = progress.add_task(f"{kind}: filling to {size:,} events")
                    fill_demo(
                        app,
                        size,
                        months=MONTHS,
                        seed=n + 1,
                        progress=partial(progress.advance, task),
                    )
                for view in views:
                    catch_up(app, view)
                head = app.recorder.max_notification_id() or 0
                probe = Probe(app, raw, views[0], views[1], rng)
                found = measure(probe, samples)
                base = statistics.median(found[OPERATIONS[0]])
                for name in OPERATIONS:
                    rows.append(
                        {
                            "store": kind,
                            "size": size,
                            "events": head,
                            "cases": len(probe.all),
                            "officers": len(probe.officers),
                            "operation": name,
                            **summary_ms(found[name]),
                            "x_baseline": ratio(statistics.median(found[name]), base),
                        }
                    )
                console.print(
                    f"[dim]{kind} at {head:,} events ({len(probe.all):,} cases): "
                    + ", ".join(
                        f"{r['operation']} {r['p50_ms']:.2f} ms"
                        for r in rows[-len(OPERATIONS) :]
                    )
                    + "[/]"
                )
        finally:
            raw.close()
    first = {r["operation"]: r["p50_ms"] for r in rows if r["size"] == sizes[0]}
    for r in rows:
        r["vs_smallest"] = ratio(r["p50_ms"], first[r["operation"]])
    return rows


def _views(settings: Settings) -> list[Any]:
    storage = open_store(settings)
    return [open_view(storage, "caseload", 1), open_view(storage, "audit", 1)]


def show(rows: list[dict[str, Any]]) -> None:
    for kind in dict.fromkeys(r["store"] for r in rows):
        mine = [r for r in rows if r["store"] == kind]
        table = Table(title=f"Cost per operation as the {kind} store grows")
        for c in (
            "operation",
            "events",
            "p50 ms",
            "p99 ms",
            "x baseline",
            "vs smallest",
        ):
            table.add_column(c, justify="left" if c == "operation" else "right")
        for name in OPERATIONS:
            for r in (r for r in mine if r["operation"] == name):
                table.add_row(
                    name,
                    f"{r['events']:,}",
                    fmt_ms(r["p50_ms"]),
                    fmt_ms(r["p99_ms"]),
                    f"{r['x_baseline']:.2f}",
                    f"{r['vs_smallest']:.2f}",
                )
        console.print(table)


def plot(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(r["store"] for r in rows))
    fig, axes = plt.subplots(
        1, len(kinds), figsize=(6.5 * len(kinds), 4.8), squeeze=False, sharey=True
    )
    for ax, kind in zip(axes[0], kinds, strict=True):
        for name in OPERATIONS:
            mine = [r for r in rows if r["store"] == kind and r["operation"] == name]
            style = "--" if "baseline" in name else "-"
            ax.plot(
                [r["events"] for r in mine],
                [r["p50_ms"] for r in mine],
                style,
                marker="o",
                label=name,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("events in the store")
        ax.set_title(f"{kind}: p50 cost per operation")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("milliseconds (log scale)")
    axes[0][-1].legend(fontsize=8, loc="upper left")
    fig.suptitle("Flat lines = cost independent of store size (same run, same machine)")
    fig.tight_layout()
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=110)
    console.print(f"[dim]wrote {out}[/]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 and 20,000 events")
    parser.add_argument(
        "--store", choices=["sqlite", "postgres", "both"], default="both"
    )
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--plot", type=Path, default=None, help=f"default {PLOT}")
    args = parser.parse_args()
    args.sizes = QUICK_SIZES if args.quick else SIZES
    if args.quick:
        args.samples = 15
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    rows = [r for kind in kinds for r in run(kind, args.sizes, args.samples)]
    show(rows)
    write_results("growth", args, rows)
    # A quick run's plot stays out of docs/ (the smoke figures are not the report's).
    plot(rows, args.plot or (results_dir(True) / "growth.png" if args.quick else PLOT))


if __name__ == "__main__":
    main()
