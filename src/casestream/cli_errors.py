"""The command line's expected failures, each as one line and exit status 2.

An operator (or a script) reading ``casestream``'s output at three in the morning needs
what is wrong and what to do, not fifty lines of traceback ending in a library's
retry message. Commands raise; this table turns what they raise into that line, in
one place, so no command prints its own errors. Anything not listed here is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn
from uuid import UUID

import psycopg
from eventsourcing.persistence import OperationalError, ProgrammingError
from pydantic import ValidationError

from casestream.api.identity import InsecureConfiguration
from casestream.domain.errors import CaseNotFound
from casestream.keys import SigningKeyMissing
from casestream.persistence.health import StoreUnavailable
from casestream.runtime_role import GrantRefused

EXIT_EXPECTED = 2


class CliError(Exception):
    """Raised by a command for a failure it expects; the message is the line shown."""


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def bad_setting(e: ValidationError) -> str:
    problems = [
        f"CASESTREAM_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
        for err in e.errors()
    ]
    return f"bad setting {'; '.join(problems)}; fix the environment (or .env)"


def refused(e: BaseException, where: str) -> str | None:
    """A database refusal after the pre-flight check: a table missing, or a right the
    role lacks. Any other programming error is a bug, and keeps its traceback."""
    line = first_line(e)
    if isinstance(e, psycopg.errors.InsufficientPrivilege) or (
        "permission denied" in line
    ):
        return (
            f"{where} refused: {line}; run `casestream grant-runtime ROLE` as the "
            "owner, or run this as the owner"
        )
    if isinstance(e, psycopg.errors.UndefinedTable) or (
        "relation" in line and "does not exist" in line
    ):
        return (
            f"a casestream table is missing in {where} ({line}); run "
            "`casestream migrate` as the owner"
        )
    return None


def lost(e: BaseException, where: str) -> str:
    return f"lost the store, {where} ({first_line(e)}); check that it is up, then run this again"


# One line per kind of failure: what is wrong, then what to do (None: not expected
# after all). Looked up along the exception's class hierarchy, so a subclass gets its
# base's line.
ONE_LINE: dict[type[BaseException], Callable[[Any, str], str | None]] = {
    CliError: lambda e, where: str(e),
    StoreUnavailable: lambda e, where: str(e),
    SigningKeyMissing: lambda e, where: str(e),
    GrantRefused: lambda e, where: str(e),
    InsecureConfiguration: lambda e, where: f"refusing: {first_line(e)}",
    CaseNotFound: lambda e, where: f"{first_line(e)} in {where}; check the case id",
    ValidationError: lambda e, where: bad_setting(e),
    psycopg.errors.InsufficientPrivilege: refused,
    psycopg.errors.UndefinedTable: refused,
    ProgrammingError: refused,
    psycopg.OperationalError: lost,
    OperationalError: lost,
}
EXPECTED: tuple[type[BaseException], ...] = tuple(ONE_LINE)


def one_line(e: BaseException, where: str) -> str | None:
    """The line for an expected failure (``where`` names the store), or None."""
    for cls in type(e).__mro__:
        if cls in ONE_LINE:
            line = ONE_LINE[cls](e, where)
            return " ".join(line.split()) if line is not None else None
    return None


def fail(message: str) -> int:
    """Print an expected failure, unwrapped (scripts read it), and give its status."""
    sys.stderr.write(f"{message}\n")
    return EXIT_EXPECTED


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and the help says the rest)."""

    def error(self, message: str) -> NoReturn:
        fail(f"{self.prog}: {message} (see `{self.prog} -h`)")
        sys.exit(EXIT_EXPECTED)


def _uuid_of(what: str) -> Callable[[str], UUID]:
    """An argument that must be a ``what`` id (a UUID): refused by argparse, in one
    line, if not."""

    def parse(text: str) -> UUID:
        try:
            return UUID(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a {what} id: {text!r} (a {what} id is a UUID, like "
                "0b5f7c2e-5c1a-4e0f-9a57-3d2f6b1c9e44)"
            ) from None

    return parse


case_id = _uuid_of("case")
partner_id = _uuid_of("partner")
