"""Render ``bench/results/*.json`` as the markdown tables of ``docs/performance.md``.

Each table sits between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in the
document; ``python -m bench.report`` replaces what is between the markers with tables
from the latest results and leaves the prose alone (``--print`` only prints them).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import RESULTS

TIMES = "\N{MULTIPLICATION SIGN}"
DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def table(header: list[str], rows: list[list[str]], *, numbers: bool = True) -> str:
    right = ["---:" if i and numbers else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(right) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def ms(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def x(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def machine() -> str:
    found = [d for d in (load(b) for b in BENCHMARKS) if d]
    if not found:
        return "(no results yet)"
    m = found[0]["machine"]
    pg = m.get("postgres_settings", {})
    dates = sorted(d["at"] for d in found)
    rows = [
        ["CPU", f"{m['nproc']} {TIMES} {m['cpu']} (`nproc` = {m['nproc']})"],
        ["memory", f"{m['memory_gb']} GB"],
        ["Python", m["python"]],
        [
            "PostgreSQL",
            f"{m['postgres']} (shared_buffers {pg.get('shared_buffers')}, "
            f"synchronous_commit {pg.get('synchronous_commit')}), same machine",
        ],
        ["SQLite", m["sqlite"]],
        ["eventsourcing / psycopg", f"{m['eventsourcing']} / {m['psycopg']}"],
        ["OS", m["platform"]],
        ["commit measured", f"`{m.get('git', '?')}`"],
        ["runs", f"{dates[0][:16]} to {dates[-1][:16]} UTC"],
        [
            "load average at the start of each",
            ", ".join(
                f"{d['benchmark']} {d['machine']['load_average_at_start'][0]:.1f}"
                for d in found
            ),
        ],
    ]
    return table(["", ""], rows, numbers=False)


def append_concurrent() -> str:
    d = load("append")
    if not d:
        return "(not run)"
    rows = [
        [
            str(r["writers"]),
            r["variant"],
            n(r["per_s"]),
            ms(r["p50_ms"]),
            ms(r["p99_ms"]),
            f"{r['vs_raw_insert']:.3f}",
            f"{r['vs_library_recorder']:.2f}",
        ]
        for r in d["results"]["concurrent"]
    ]
    return table(
        [
            "writers",
            "path",
            "commands/s",
            "p50 ms",
            "p99 ms",
            "vs raw INSERT",
            "vs library recorder",
        ],
        rows,
    )


def append_bulk() -> str:
    d = load("append")
    if not d:
        return "(not run)"
    rows = [
        [
            r["variant"],
            n(r["events"]),
            str(r["batches"]),
            n(r["events_per_s"]),
            ms(r["batch_p50_ms"]),
            ms(r["batch_p99_ms"]),
            f"{r['vs_copy']:.3f}",
        ]
        for r in d["results"]["bulk"]
    ]
    return table(
        [
            "path",
            "events",
            "batches",
            "events/s",
            "batch p50 ms",
            "batch p99 ms",
            "vs COPY",
        ],
        rows,
    )


def load_table() -> str:
    d = load("load")
    if not d:
        return "(not run)"
    out = []
    rows_all = d["results"]
    for kind in dict.fromkeys(r["store"] for r in rows_all):
        mine = [r for r in rows_all if r["store"] == kind]
        sizes = list(dict.fromkeys(r["events"] for r in mine))
        header = [f"**{kind}**: median ms ({TIMES} baseline time)"]
        header += [f"{s:,} events" for s in sizes]
        rows = []
        for name in dict.fromkeys(r["operation"] for r in mine):
            cells = [name]
            for s in sizes:
                [r] = [r for r in mine if r["events"] == s and r["operation"] == name]
                cells.append(f"{ms(r['median_ms'])} ({x(r['x_baseline_time'])}{TIMES})")
            rows.append(cells)
        out.append(table(header, rows))
    snaps = [r for r in rows_all if r["operation"] == "load, snapshots"]
    out.append(
        table(
            [
                "store",
                "events",
                "events stored",
                "snapshots",
                "latest snapshot",
                "all snapshots",
            ],
            [
                [
                    r["store"],
                    n(r["events"]),
                    f"{r['events_mb']:.2f} MB",
                    str(r["snapshots"]),
                    f"{r['latest_snapshot_kb']:,.0f} KB",
                    f"{r['all_snapshots_mb']:,.1f} MB",
                ]
                for r in snaps
            ],
        )
    )
    return "\n\n".join(out)


def catchup_table() -> str:
    d = load("catchup")
    if not d:
        return "(not run)"
    return table(
        [
            "store",
            "events",
            "baseline ev/s",
            "caseload ev/s",
            "vs baseline",
            "audit ev/s",
            "vs baseline",
        ],
        [
            [
                r["store"],
                n(r["events"]),
                n(r["baseline_events_per_s"]),
                n(r["caseload_events_per_s"]),
                f"{r['caseload_vs_baseline']:.3f}",
                n(r["audit_events_per_s"]),
                f"{r['audit_vs_baseline']:.3f}",
            ]
            for r in d["results"]
        ],
    )


def fill_table() -> str:
    d = load("catchup")
    if not d:
        return "(not run)"
    return table(
        [
            "store",
            "events",
            "seconds",
            "batched ev/s",
            "one by one ev/s",
            "batched vs one by one",
        ],
        [
            [
                r["store"],
                n(r["events"]),
                n(r["fill_seconds"], 0),
                n(r["fill_events_per_s"]),
                n(r["one_by_one_events_per_s"]),
                f"{r['fill_vs_one_by_one']:.1f}{TIMES}",
            ]
            for r in d["results"]
        ],
    )


def api_table() -> str:
    d = load("api")
    if not d:
        return "(not run)"
    out = []
    for result in d["results"]:
        title = (
            f"uvicorn, **{result['workers']} worker{'s' if result['workers'] > 1 else ''}**;"
            f" {result['clients']} clients; {result['events']:,} events, "
            f"{result['officers']} officers, ~{result['cases_per_officer']:.0f} active "
            f"cases each; server tracebacks logged: {result.get('server_tracebacks', 0)}"
        )
        rows = [
            [
                r["endpoint"],
                n(r["ok_per_s"]),
                ms(r["p50_ms"]),
                ms(r["p99_ms"]),
                f"{r['errors']} / {r['requests']:,}",
                f"{r['vs_healthz']:.3f}",
                x(r["p50_x_healthz"]) + TIMES,
            ]
            for r in result["endpoints"]
        ]
        out.append(
            title
            + "\n\n"
            + table(
                [
                    "endpoint",
                    "ok req/s",
                    "p50 ms",
                    "p99 ms",
                    "non-2xx",
                    "vs healthz",
                    "p50 vs healthz",
                ],
                rows,
            )
        )
    return "\n\n".join(out)


def growth_table() -> str:
    d = load("growth")
    if not d:
        return "(not run)"
    out = []
    rs = d["results"]
    for kind in dict.fromkeys(r["store"] for r in rs):
        mine = [r for r in rs if r["store"] == kind]
        sizes = list(dict.fromkeys(r["size"] for r in mine))
        header = [f"**{kind}**: p50 ms"]
        header += [
            f"{next(r['events'] for r in mine if r['size'] == s):,} ev" for s in sizes
        ]
        header += [
            "p99 ms at largest",
            "largest vs smallest",
            f"{TIMES} baseline at largest",
        ]
        rows = []
        for name in dict.fromkeys(r["operation"] for r in mine):
            by = {r["size"]: r for r in mine if r["operation"] == name}
            last = by[sizes[-1]]
            rows.append(
                [name]
                + [ms(by[s]["p50_ms"]) for s in sizes]
                + [
                    ms(last["p99_ms"]),
                    f"{last['vs_smallest']:.2f}",
                    x(last["x_baseline"]),
                ]
            )
        cases = ", ".join(
            f"{next(r['cases'] for r in mine if r['size'] == s):,} cases / "
            f"{next(r['officers'] for r in mine if r['size'] == s)} officers"
            for s in sizes
        )
        out.append(table(header, rows) + f"\n\nStore sizes: {cases}.")
    return "\n\n".join(out)


def profile_tables() -> str:
    d = load("profile")
    if not d:
        return "(not run)"
    stages = table(
        ["stage of one command (PostgreSQL, 1 writer)", "median ms", "share"],
        [
            [r["stage"], f"{r['median_ms']:.3f}", f"{r['share']:.0%}"]
            for r in d["results"]["stages"]
        ],
    )
    replayed = d["results"]["stages"][0]["events_replayed_mean"]
    ifs = table(
        ["what-if (own process each)", "ms/command", "commands/s", "vs as shipped"],
        [
            [
                r["variant"],
                f"{r['ms_per_command']:.3f}",
                n(r["commands_per_s"]),
                f"{r['vs_as_shipped']:.2f}",
            ]
            for r in d["results"]["what_ifs"]
        ],
    )
    out = f"{stages}\n\nEvents replayed per load: {replayed} on average.\n\n{ifs}"
    caseload = d["results"].get("caseload")
    if caseload:
        out += "\n\n" + table(
            [
                f"GET /caseloads/{{officer}} step ({caseload['rows']} rows, "
                f"~{caseload['mean_doc_bytes']:,} B of JSON each)",
                "median ms",
                "share",
            ],
            [
                [r["stage"], f"{r['median_ms']:.3f}", f"{r['share']:.0%}"]
                for r in caseload["stages"]
            ],
        )
    return out


def _pick(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def goals() -> str:
    """Issue #12's goal table with the latest run's figure for each row."""
    append, load_d, catchup, api = (
        load(b) for b in ("append", "load", "catchup", "api")
    )
    concurrent = append["results"]["concurrent"] if append else []
    found: list[list[str]] = []

    def ratios(variant: str, writers: tuple[int, ...]) -> str:
        cells = [_pick(concurrent, variant=variant, writers=w) for w in writers]
        return " / ".join(f"{c['vs_raw_insert']:.2f}" if c else "-" for c in cells)

    found.append(
        [
            "store append (event + chain link + recorded-at + key) vs raw INSERT, "
            "1 / 4 / 16 writers",
            "≥ 0.9 each",
            ratios("store append + key", (1, 4, 16)),
        ]
    )
    for variant in ("casestream", "casestream + key"):
        found.append(
            [
                f"command with a cached aggregate ({variant}), 1 / 16 writers, "
                "vs raw INSERT",
                "≥ 0.6 each",
                ratios(variant, (1, 16)),
            ]
        )
    bulk = (
        _pick(append["results"]["bulk"], variant="casestream: app.save")
        if append
        else None
    )
    found.append(
        [
            "bulk import (batches through `CaseHistory.save`) vs `COPY`",
            "≥ 0.5",
            f"{bulk['vs_copy']:.2f}" if bulk else "-",
        ]
    )
    loaded = (
        _pick(
            load_d["results"],
            store="postgres",
            events=1000,
            operation="load, snapshots",
        )
        if load_d
        else None
    )
    found.append(
        [
            "load a 1,000-event case (PostgreSQL) vs one `SELECT` of its rows",
            f"≤ 1.5{TIMES}",
            f"{loaded['x_baseline_time']:.2f}{TIMES}" if loaded else "-",
        ]
    )
    found.append(
        ["officer caseload as of T on a 1M-event store", "≤ 100 ms p50", "not measured"]
    )
    one = _pick(api["results"], workers=1) if api else None
    endpoints = one["endpoints"] if one else []
    figures = []
    for name in (
        "GET /caseloads/{officer}",
        "GET /probationers/{id}",
        "POST /probationers/{id}/contacts",
    ):
        r = _pick(endpoints, endpoint=name)
        figures.append(f"{r['vs_healthz']:.2f}" if r else "-")
    errors = sum(r["errors"] for r in endpoints)
    found.append(
        [
            "HTTP, 1 worker: caseload / one case / `POST …/contacts` vs `/healthz`",
            "≥ 0.5 / 0.5 / 0.3, zero non-2xx",
            " / ".join(figures) + (f", {errors} non-2xx" if one else ""),
        ]
    )
    found.append(
        [
            "event committed → caseload row and SSE client updated, p50 / p99",
            "≤ 20 ms / 100 ms",
            "not measured",
        ]
    )
    audit = _pick(catchup["results"], store="postgres") if catchup else None
    found.append(
        [
            "audit projection rebuild vs read + deserialise (PostgreSQL)",
            "≥ 0.5",
            f"{audit['audit_vs_baseline']:.2f}" if audit else "-",
        ]
    )
    return table(["measure", "goal", "latest run"], found, numbers=False)


BENCHMARKS = ("append", "load", "catchup", "growth", "api", "profile")
SECTIONS: dict[str, Callable[[], str]] = {
    "machine": machine,
    "goals": goals,
    "append": append_concurrent,
    "bulk": append_bulk,
    "load": load_table,
    "catchup": catchup_table,
    "fill": fill_table,
    "api": api_table,
    "growth": growth_table,
    "profile": profile_tables,
}


def splice(text: str, name: str, body: str) -> str:
    """``text`` with what is between the markers of ``name`` replaced by ``body``."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    if start not in text or end not in text:
        return text
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--print", action="store_true", help="print, do not edit")
    args = parser.parse_args()
    if args.print:
        for name, render in SECTIONS.items():
            print(f"## {name}\n\n{render()}\n")
        return
    text = DOC.read_text()
    for name, render in SECTIONS.items():
        text = splice(text, name, render())
    DOC.write_text(text)
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
