"""How the command line shows things: tables that never cut an id or a date, one
time format, and JSON for scripts.

Rich shortens a cell that does not fit with an ellipsis; a case id or a time cut that
way is worse than none (an operator pastes it into the next command). So every
column folds or wraps instead, and columns that hold ids or times keep their width,
so that they are not broken either. (Rich's ``min_width`` is not the way: with it a
table came out wider than the terminal and lost its right edge.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence, Set
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.table import Table


def iso(at: datetime | None) -> str:
    """A time in full, in UTC, ISO 8601 (milliseconds when it has a fraction)."""
    if at is None:
        return ""
    utc = at.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def table(
    title: str | None, columns: Sequence[str], *, whole: Set[str] = frozenset()
) -> Table:
    """A table whose cells fold rather than being cut. The columns named in ``whole``
    hold ids or times: they keep their width (``no_wrap``) so that each stays on one
    line, and the other columns give way; only a terminal too narrow even for them
    folds them."""
    t = Table(title=title)
    for name in columns:
        t.add_column(name, overflow="fold", no_wrap=name in whole)
    return t


def plain(value: Any) -> Any:
    """A value JSON can hold: ids and times as text (whole), enums as their value."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID | Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def print_json(value: Any) -> None:
    """One JSON document on standard output (never wrapped, never coloured)."""
    sys.stdout.write(json.dumps(value, indent=2, default=plain, ensure_ascii=False))
    sys.stdout.write("\n")
