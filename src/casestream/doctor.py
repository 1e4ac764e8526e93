"""``casestream doctor``: is this store fit to keep evidence, checked in one go?

Each check answers one question an operator would otherwise answer by hand with psql
and ls: can the store be reached, are its tables there, are the triggers that keep
history append-only present and enabled, can the service's role rewrite history,
are the read models keeping up, is the signing key there, and does the database's
clock (which stamps every recorded-at time) agree with this host's. Nothing is
created or changed: the store is opened as the runtime role opens it
(``CASESTREAM_CREATE_TABLES=false``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from casestream.application import CaseHistory
from casestream.keys import SigningKeyMissing, public_bytes
from casestream.persistence.health import StoreHealth, StoreUnavailable
from casestream.persistence.store import Store, open_store
from casestream.projections.runner import status
from casestream.settings import Settings

Verdict = Literal["ok", "warn", "fail", "skip"]
MAX_CLOCK_SKEW = timedelta(seconds=1)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    verdict: Verdict
    detail: str

    @property
    def wrong(self) -> bool:
        return self.verdict in ("warn", "fail")


def examine(settings: Settings, runtime_role: str | None = None) -> list[Check]:
    """Every check, in order; those that need the store are skipped if it is not
    there (the first failure says why)."""
    store = open_store(settings.model_copy(update={"create_tables": False}))
    health = store.health()
    found = [guarded("store", lambda: reachable(health))]
    if found[-1].verdict == "ok":
        found.append(guarded("tables", lambda: tables(health)))
    if found[-1].verdict == "ok" or found[-1].detail.startswith("missing:"):
        found.append(guarded("append-only triggers", lambda: triggers(health)))
        found.append(guarded("runtime role", lambda: role(health, runtime_role)))
        found.extend(read_models(store))
        found.append(guarded("clock", lambda: clock(health)))
    else:
        found.append(Check("history", "skip", "the store is not usable (above)"))
    found.append(guarded("signing key", lambda: signing_key(settings)))
    return found


def guarded(name: str, check: Callable[[], Check]) -> Check:
    """A check that raises is a failed check: the doctor reports, it never dies."""
    try:
        return check()
    except StoreUnavailable as e:
        return Check(name, "fail", str(e))
    except Exception as e:  # any error is a finding to report
        return Check(name, "fail", f"{type(e).__name__}: {first_line(e)}")


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


def reachable(health: StoreHealth) -> Check:
    health.reach()
    return Check("store", "ok", health.location)


def tables(health: StoreHealth) -> Check:
    missing = health.missing_tables()
    if health.events_table in missing:
        return Check("tables", "fail", health.absent())
    if missing:
        return Check(
            "tables",
            "fail",
            f"missing: {', '.join(missing)}; run `casestream migrate` as the owner",
        )
    return Check("tables", "ok", "every table `casestream migrate` makes is there")


def triggers(health: StoreHealth) -> Check:
    found = health.triggers()
    if not found:
        return Check("append-only triggers", "skip", "none: the store is in memory")
    off = [t for t in found if t.state != "enabled"]
    if not off:
        return Check("append-only triggers", "ok", f"all {len(found)} enabled")
    return Check(
        "append-only triggers",
        "fail",
        "; ".join(f"{t.name} on {t.table} is {t.state}" for t in off)
        + " — enable it (ALTER TABLE … ENABLE TRIGGER …) or run `casestream migrate`"
        " as the owner",
    )


def role(health: StoreHealth, runtime_role: str | None) -> Check:
    rights = health.role_rights(runtime_role)
    if rights is None:
        return Check(
            "runtime role", "skip", "no database roles: the triggers alone keep history"
        )
    if not rights.exists:
        return Check("runtime role", "fail", f"role {rights.role} does not exist")
    if rights.rewrites:
        return Check(
            "runtime role",
            "fail",
            f"{rights.role} can rewrite history: {', '.join(rights.rewrites)}; serve "
            f"as a role made with `casestream grant-runtime` (check it with "
            "--runtime-role ROLE)",
        )
    return Check(
        "runtime role", "ok", f"{rights.role} may read and append history, no more"
    )


def read_models(store: Store) -> Iterator[Check]:
    """One check per read model: how far behind the store it is, and what it skipped."""
    limit = store.settings.ready_max_lag
    try:
        with CaseHistory(env=store.env()) as app:
            rows = status(store, app)
    except Exception as e:  # reported, like every check
        yield Check("read models", "fail", f"{type(e).__name__}: {first_line(e)}")
        return
    for s in rows:
        detail = (
            f"generation {s.generation} at {s.position} of {s.head}: {s.lag} behind"
        )
        verdict: Verdict = "ok"
        if s.lag > limit:
            verdict = "warn"
            detail += f" (more than CASESTREAM_READY_MAX_LAG={limit}: is it projected?)"
        if s.poisoned:
            verdict = "warn"
            detail += (
                f"; {s.poisoned} events stepped over (casestream status lists them)"
            )
        yield Check(f"read model {s.name}", verdict, detail)


def clock(health: StoreHealth) -> Check:
    skew = health.clock_skew()
    if skew is None:
        return Check("clock", "skip", "the database uses this host's clock")
    seconds = skew.total_seconds()
    way = "ahead of" if seconds > 0 else "behind"
    detail = f"the database's clock is {abs(seconds):.3f} s {way} this host's"
    if abs(skew) > MAX_CLOCK_SKEW:
        return Check(
            "clock",
            "warn",
            detail + " (over 1 s; recorded-at times come from the database: fix NTP)",
        )
    return Check("clock", "ok", detail)


def signing_key(settings: Settings) -> Check:
    path = settings.signing_key_file
    try:
        key = settings.signing_key()
    except SigningKeyMissing as e:
        return Check("signing key", "fail", str(e))
    public = public_bytes(key).hex()
    if settings.public_key and settings.public_key.lower() != public:
        return Check(
            "signing key",
            "fail",
            f"the key at {path} (public key {public}) is not the published "
            f"CASESTREAM_PUBLIC_KEY {settings.public_key}",
        )
    return Check("signing key", "ok", f"public key {public} at {Path(path)}")
