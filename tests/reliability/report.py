"""Turn the reliability scenarios' figures (results/*.json) into docs/reliability.md.

    .venv/bin/python -m tests.reliability.report [--check]

Only the part of the document between the two ``figures`` markers is rewritten; the rest
is prose. ``make soak`` runs it after the scenarios; after a plain ``pytest`` run it can
be run by hand. ``--check`` exits 1 when a figures file says something was lost,
duplicated or answered with a 5xx (the tests fail on that too).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
DOC = Path(__file__).parents[2] / "docs" / "reliability.md"
BEGIN = "<!-- figures:begin (written by tests/reliability/report.py) -->"
END = "<!-- figures:end -->"
COLUMNS = ("requests", "acknowledged", "found", "duplicates", "lost", "server_errors")
HEADINGS = ("requests", "acknowledged", "found", "duplicates", "lost", "5xx")


def load() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(cell(v) for v in value)
    return "-" if value is None else str(value)


def render(results: list[dict[str, Any]]) -> str:
    if not results:
        return "No figures yet: run `make test` or `make soak`, then this script.\n"
    return "\n".join(
        table(scale, [r for r in results if r.get("scale", 1) == scale])
        for scale in sorted({r.get("scale", 1) for r in results})
    )


def table(scale: float, results: list[dict[str, Any]]) -> str:
    """One table per scale: 1 is what `make test` runs, more is `make soak`."""
    how = "`make test`" if scale == 1 else "`make soak`"
    lines = [
        f"### Scale {cell(scale)} ({how}; `CASESTREAM_RELIABILITY_SCALE`)",
        "",
        f"Runs finished {min(r['finished_at'] for r in results)} to "
        f"{max(r['finished_at'] for r in results)} (UTC).",
        "",
        "| scenario | store | " + " | ".join(HEADINGS) + " | seconds |",
        "|---|---|" + "---:|" * (len(COLUMNS) + 1),
    ]
    for r in results:
        lines.append(
            f"| {r['scenario']} | {r['store']} | "
            + " | ".join(cell(r.get(c)) for c in COLUMNS)
            + f" | {cell(r.get('seconds'))} |"
        )
    lines += ["", "Everything else each scenario counted:", ""]
    skip = {"scenario", "title", "store", "scale", "finished_at", "seconds", *COLUMNS}
    for r in results:
        rest = {k: v for k, v in r.items() if k not in skip}
        lines.append(
            f"- **{r['scenario']}** ({r['store']}) - {r['title']}: "
            + "; ".join(f"{k}: {cell(v)}" for k, v in rest.items())
        )
    return "\n".join(lines) + "\n"


def faults(results: list[dict[str, Any]]) -> list[str]:
    return [
        f"{r['scenario']} ({r['store']}): {c} = {r[c]}"
        for r in results
        for c in ("duplicates", "lost", "server_errors")
        if r.get(c)
    ]


def main(argv: list[str]) -> int:
    results = load()
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n\n" + render(results) + "\n" + text[end:])
    found = faults(results)
    for f in found:
        sys.stderr.write(f"reliability: {f}\n")
    return 1 if found and "--check" in argv else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
