"""The cost of crypto-shredding (``casestream.shredding``) on one command.

The benchmark's command (load a case of about 40 events, log one contact, save one
event), one writer, on SQLite and PostgreSQL: with events in clear (no master key,
the baseline) and encrypted per case, with the unwrapped data keys cached (steady
state) and with the cache dropped before every command (every load looks its key up
in the ``data_keys`` table and unwraps it).

Usage: ``python -m bench.shredding [--quick] [--commands N]``.
"""

from __future__ import annotations

import argparse
import tempfile
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.table import Table

from bench.common import (
    console,
    fmt_ms,
    log_contact,
    open_case,
    ratio,
    store,
    summary_ms,
    timed,
    write_results,
)
from casestream.application import CaseHistory
from casestream.persistence.store import open_store
from casestream.settings import Settings
from casestream.shredding import forget_cached_keys, init_master_key

CASES = 10
EVENTS_PER_CASE = 40
VARIANTS = ("clear", "encrypted", "encrypted, no key cache")


def prepare(settings: Settings, variant: str) -> tuple[CaseHistory, list[UUID]]:
    """A store for one variant, its cases filled to ``EVENTS_PER_CASE`` events."""
    if variant == "clear":
        settings = settings.model_copy(update={"master_key_path": "/nonexistent"})
    else:
        key = Path(tempfile.mkdtemp(prefix="casestream-bench-")) / "master.json"
        init_master_key(key)
        settings = settings.model_copy(update={"master_key_path": str(key)})
    app = CaseHistory(env=open_store(settings).env())
    cases = [open_case(app, n) for n in range(CASES)]
    for case_id in cases:
        for k in range(EVENTS_PER_CASE - 1):
            log_contact(app, case_id, f"fill-{k}")
    return app, cases


def measure(kind: str, commands: int) -> dict[str, dict[str, Any]]:
    """The variants' commands interleaved one by one, so that the load other
    processes put on the machine falls on each alike."""
    with ExitStack() as stack:
        apps = {}
        for variant in VARIANTS:
            settings = stack.enter_context(store(kind))
            app, cases = prepare(settings, variant)
            stack.callback(app.close)
            apps[variant] = (app, cases)
        samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for n in range(commands):
            for variant, (app, cases) in apps.items():
                if variant == "encrypted, no key cache":
                    forget_cached_keys()
                case_id = cases[n % CASES]
                samples[variant].append(
                    timed(partial(log_contact, app, case_id, f"m{n}"))
                )
    return {v: summary_ms(s) for v, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--commands", type=int, default=400)
    args = parser.parse_args()
    commands = 40 if args.quick else args.commands
    results: dict[str, dict[str, Any]] = {}
    for kind in ("sqlite", "postgres"):
        results[kind] = measure(kind, commands)
        base = results[kind]["clear"]["p50_ms"]
        for variant in VARIANTS:
            results[kind][variant]["p50_vs_clear"] = ratio(
                results[kind][variant]["p50_ms"], base
            )
    table = Table(title=f"One command (load ~{EVENTS_PER_CASE} events, append one)")
    for column in ("store", "variant", "p50", "p99", "mean", "p50 vs clear"):
        table.add_column(column)
    for kind, by_variant in results.items():
        for variant, r in by_variant.items():
            table.add_row(
                kind,
                variant,
                fmt_ms(r["p50_ms"]),
                fmt_ms(r["p99_ms"]),
                fmt_ms(r["mean_ms"]),
                f"{r['p50_vs_clear']:.2f}x",
            )
    console.print(table)
    write_results("shredding", args, results)


if __name__ == "__main__":
    main()
