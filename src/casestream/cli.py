"""The ``casestream`` command: serve the API, load demo data, print a case history,
and the operator's commands (status, verify, doctor, keys, migrate...).

Expected failures are raised and turned into one line and exit status 2 in one place
(``cli_errors.py``); tables and JSON are made in ``cli_render.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from rich.console import Console
from rich.progress import Progress
from rich.text import Text

from casestream.application import CaseHistory
from casestream.cli_errors import (
    EXPECTED,
    CliError,
    OneLineParser,
    case_id,
    fail,
    one_line,
    partner_id,
)
from casestream.cli_render import iso, print_json, table
from casestream.demo import DEFAULT_MONTHS as DEFAULT_DEMO_MONTHS
from casestream.domain.errors import CaseNotFound
from casestream.persistence.health import StoreHealth
from casestream.persistence.store import Store, open_store
from casestream.projections.registry import READER_TTL_SECONDS
from casestream.projections.runner import KEEP_GENERATIONS, Pruned
from casestream.queries import HistoryEntry
from casestream.settings import get_settings

console = Console()
errors = Console(stderr=True)  # warnings stay out of output meant for pipes

# What a command needs of the store before it starts: "read" commands need the event
# store to exist and never create one (an empty store would answer "position 0");
# "write" commands may create it, unless CASESTREAM_CREATE_TABLES=false; "owner"
# commands only need to reach it. Either way it is reached once, quickly, first.
StoreUse = Literal["read", "write", "owner"]


@lru_cache
def store() -> Store:
    """The store the settings name (one per process, so its SQLite path is resolved
    once); every command takes its pieces from it."""
    return open_store(get_settings())


def preflight(health: StoreHealth, use: StoreUse | None, create_tables: bool) -> None:
    """Fail fast, in one line, rather than through the library's retries."""
    if use == "read" or (use == "write" and not create_tables):
        health.require_event_store()
    elif use is not None:
        health.reach()


def open_app() -> CaseHistory:
    return CaseHistory(env=store().env())


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from casestream.api.identity import signing_secret

    settings = get_settings()
    signing_secret(settings)  # refuse here, before uvicorn starts
    if settings.env != "development":
        settings.signing_key()
    uvicorn.run(
        "casestream.api.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level="info",
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from casestream.demo import load_demo
    from casestream.demo.volumes import outside_ranges, volumes

    with open_app() as app:
        if args.if_empty and app.recorder.max_notification_id():
            console.print(
                "[dim]The store already holds events; no demo data loaded.[/]"
            )
            return 0
        with Progress(console=console) as progress:
            task = progress.add_task("Writing demo caseload", total=args.people)
            ids = load_demo(
                app,
                args.people,
                seed=args.seed,
                months=args.months,
                batch=not args.one_by_one,
                progress=lambda n: progress.advance(task, n),
            )
        head = app.recorder.max_notification_id()
        found = volumes((app.get_case(i) for i in ids), datetime.now(UTC))
    console.print(f"Wrote {len(ids)} cases ({head} events in the store).")
    if ids:
        shown = table(
            f"Per person-month over {found['person_months']} person-months "
            "(DOMAIN.md §7.2: events 10-20, contact records 5-7)",
            ("measure", "per person-month"),
        )
        for name, value in found["per_person_month"].items():
            shown.add_row(name.replace("_", " "), f"{value:g}")
        for name, value in found["closures_per_person_year"].items():
            shown.add_row(
                f"closed {name.replace('_', ' ')} (per person-year)", f"{value:g}"
            )
        console.print(shown)
        for problem in outside_ranges(found):
            console.print(f"[yellow]Outside §7.2: {problem}[/]")
        console.print(f"Try: casestream history {ids[0]}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from casestream import queries

    with open_app() as app:
        case = app.get_case(args.case_id)
        history = queries.history(app, args.case_id)
    summary = {
        "id": str(args.case_id),
        "name": case.person.get("name"),
        "status": case.status,
        "officer_id": case.officer_id,
        "unit_id": case.unit_id,
        "risk_level": case.risk_level,
    }
    if args.json:
        print_json({"case": summary, "entries": [entry(h) for h in history]})
        return 0
    console.print(
        Text(
            f"Case {args.case_id}: {summary['name']} — {case.status}, officer "
            f"{case.officer_id}, {case.unit_id}, risk {case.risk_level or 'unassessed'}"
        ),
        soft_wrap=True,
    )
    shown = table(
        None,
        ("v", "effective / recorded (UTC)", "event / by", "details"),
        whole={"effective / recorded (UTC)"},
    )
    for h in history:
        shown.add_row(
            str(h.version),
            f"{iso(h.effective_at)}\n{iso(h.recorded_at)}",
            Text(f"{h.event_type}\n{h.actor_id} ({h.actor_role})"),
            Text(h.summary + (f"\nreason: {h.reason}" if h.reason else "")),
        )
    console.print(shown)
    return 0


def entry(h: HistoryEntry) -> dict[str, object]:
    """One history entry for ``--json``: every field, times in full."""
    return {
        "version": h.version,
        "event_type": h.event_type,
        "effective_at": h.effective_at,
        "recorded_at": h.recorded_at,
        "actor_id": h.actor_id,
        "actor_role": h.actor_role,
        "summary": h.summary,
        "reason": h.reason,
        "data": h.data,
    }


def cmd_project(args: argparse.Namespace) -> int:
    from casestream.alerting import AlertEvaluator
    from casestream.projections.runner import READ_MODELS, LiveProjections

    names = tuple(READ_MODELS) if args.name == "all" else (args.name,)
    chosen = store()
    live = LiveProjections(chosen, names=names)
    console.print(f"Projecting {', '.join(names)}; Ctrl-C to stop.")
    # The worker that keeps the caseload also re-checks alerts as time passes.
    evaluator = None
    every = chosen.settings.alert_every_seconds
    if "caseload" in names and every:
        evaluator = AlertEvaluator(
            CaseHistory(env=chosen.env()), lambda: live.view("caseload"), every=every
        ).start()
    try:
        while True:
            live.check()  # re-raises a projection error, which ends the worker
            import time

            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        if evaluator is not None:
            evaluator.stop()
            evaluator.cases.close()
        live.stop()
    return 0


def say_pruned(name: str, pruned: Pruned) -> None:
    if pruned.dropped:
        gens = ", ".join(str(g) for g in pruned.dropped)
        console.print(f"Dropped {name} generation(s) {gens}.")
    if pruned.still_read:
        gens = ", ".join(str(g) for g in pruned.still_read)
        console.print(
            f"Kept {name} generation(s) {gens}: a server read them within the last "
            f"{READER_TTL_SECONDS:g} s; `casestream prune {name}` drops them once "
            "no server does."
        )


def cmd_rebuild(args: argparse.Namespace) -> int:
    from casestream.projections.runner import rebuild

    if args.keep < 1:
        errors.print("casestream rebuild: --keep must be at least 1 (the serving one)")
        return 2
    outcome: list[Pruned] = []
    with Progress(console=console) as progress:
        task = progress.add_task(f"Rebuilding {args.name}", total=None)

        def advance(position: int, head: int) -> None:
            progress.update(task, completed=position, total=head)

        generation = rebuild(
            store(),
            args.name,
            batch_size=args.batch_size,
            progress=advance,
            restart=args.restart,
            keep=args.keep,
            pruned=outcome.append,
        )
    console.print(f"{args.name} rebuilt as generation {generation}; it now serves.")
    for pruned in outcome:
        say_pruned(args.name, pruned)
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from casestream.projections.runner import prune

    if args.keep < 1:
        errors.print("casestream prune: --keep must be at least 1 (the serving one)")
        return 2
    pruned = prune(store(), args.name, keep=args.keep)
    say_pruned(args.name, pruned)
    if not pruned.dropped and not pruned.still_read:
        console.print(f"No {args.name} generation to drop.")
    return 0


def cmd_relay_nats(args: argparse.Namespace) -> int:
    import logging

    from casestream.relay.nats import RelayConfig, RelayFailed, run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        config = RelayConfig(
            url=args.url,
            stream=args.stream,
            subject_prefix=args.subject_prefix,
            duplicate_window_seconds=args.duplicate_window,
            batch_size=args.batch_size,
            poll_seconds=get_settings().feed_poll_seconds,
            timeout_seconds=args.timeout,
            once=args.once,
        )
        with open_app() as app:
            published = run(app, config)
    except RelayFailed as e:
        sys.stderr.write(f"casestream relay: {e}\n")  # one line: supervisors log it
        return 2
    errors.print(f"Published {published} events to stream {config.stream}.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from casestream.projections.runner import status

    where = store().health().location
    with open_app() as app:
        rows = status(store(), app)
        head = app.recorder.max_notification_id() or 0
        head_at = app.store.recorded_at_of([head]).get(head) if head else None
        checkpoints = app.store.checkpoints()
    latest = checkpoints[-1] if checkpoints else None
    if args.json:
        print_json(
            {
                "store": where,
                "head": head,
                "head_recorded_at": head_at,
                "latest_checkpoint": latest
                and {
                    "position": latest.position,
                    "cases": latest.cases,
                    "signed_at": latest.signed_at,
                },
                "read_models": [
                    {
                        "name": s.name,
                        "generation": s.generation,
                        "position": s.position,
                        "head": s.head,
                        "lag": s.lag,
                        "poisoned": s.poisoned,
                        "poisoned_events": list(s.poisoned_events),
                    }
                    for s in rows
                ],
            }
        )
        return 0
    console.print(Text(f"Store {where}"), soft_wrap=True)
    console.print(
        Text(
            f"Head: position {head}"
            + (f", recorded {iso(head_at)}" if head_at else "")
            + (
                f"; latest checkpoint at position {latest.position}, signed "
                f"{iso(latest.signed_at)}"
                if latest
                else "; no checkpoint yet"
            )
        ),
        soft_wrap=True,
    )
    shown = table(
        "Projections",
        ("read model", "generation", "position", "store head", "lag", "poisoned"),
    )
    for s in rows:
        shown.add_row(
            s.name,
            str(s.generation),
            str(s.position),
            str(s.head),
            str(s.lag),
            str(s.poisoned),
        )
    console.print(shown)
    poisoned = [(s.name, p) for s in rows for p in s.poisoned_events]
    if poisoned:
        skipped = table(
            "Events stepped over (fix the cause, then `casestream rebuild NAME`)",
            ("read model", "position", "case", "version", "topic", "error"),
            whole={"case"},
        )
        for name, p in poisoned:
            skipped.add_row(
                name,
                str(p.position),
                p.originator_id,
                str(p.version),
                Text(p.topic),
                Text(p.error),
            )
        console.print(skipped)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from casestream.verify import verify_store

    settings = get_settings()
    public_key = settings.agency_public_key()
    witness = Path(args.witness) if args.witness else settings.witness
    with open_app() as app:
        verdict = verify_store(
            app.store,
            args.case,
            public_key=public_key,
            snapshots=app.sealed_snapshots,
            witness=witness,
        )
    if args.case and verdict.cases[0].versions == 0 and verdict.cases[0].intact:
        raise CaseNotFound(f"no probationer {args.case}")
    ok = verdict.intact and public_key is not None
    if args.json:
        print_json(
            {
                "intact": verdict.intact,
                "signatures_checked": public_key is not None,
                "cases": verdict.cases,
                "checkpoints": verdict.checkpoints,
                "witness": {
                    "dir": witness.absolute() if witness else None,
                    "problems": verdict.witness,
                },
            }
        )
        return 0 if ok else 1
    # Whole ids and problems, one per line: a log of this names the broken case.
    for c in verdict.cases:
        if not c.intact or args.case:
            line = "intact" if c.intact else f"BROKEN at v{c.broken_at}: {c.problem}"
            console.print(
                f"case {c.originator_id} ({c.versions} versions): {line}",
                soft_wrap=True,
            )
    for cp in verdict.checkpoints:
        line = "intact" if cp.intact else f"BROKEN: {cp.problem}"
        console.print(
            f"checkpoint {cp.position} ({cp.cases} cases): {line}", soft_wrap=True
        )
    for problem in verdict.witness:
        console.print(f"witness {witness}: BROKEN: {problem}", soft_wrap=True)
    broken = [c for c in verdict.cases if not c.intact]
    console.print(
        f"{len(verdict.cases)} aggregates, {len(broken)} broken; "
        f"{len(verdict.checkpoints)} checkpoints, "
        f"{sum(not c.intact for c in verdict.checkpoints)} broken"
        + (f"; witness {witness}: {len(verdict.witness)} problems" if witness else "")
        + ("" if public_key else "; signatures NOT checked (no agency key)"),
        soft_wrap=True,
    )
    return 0 if ok else 1


def cmd_compact(args: argparse.Namespace) -> int:
    with open_app() as app:
        done = app.compact_store()
    if args.json:
        print_json({"compacted": done})
        return 0
    for line in done or ["nothing to compact (no master key, or an in-memory store)"]:
        console.print(line, soft_wrap=True, highlight=False)
    return 0


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from casestream.checkpoints import take_checkpoint

    settings = get_settings()
    key = settings.signing_key()
    with open_app() as app:
        cp = take_checkpoint(app.store, key, settings.witness)
    console.print(
        f"Checkpoint at position {cp.position}: {cp.cases} cases, root {cp.root.hex()}, "
        f"signed {iso(cp.signed_at)}",
        soft_wrap=True,
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from casestream.checkpoints import take_checkpoint
    from casestream.domain.errors import NotYetCheckpointed
    from casestream.export import build_bundle, render_html

    try:
        as_recorded_at = _aware("--as-recorded-at", args.as_recorded_at)
        as_effective_at = _aware("--as-effective-at", args.as_effective_at or args.at)
    except ValueError as e:
        raise CliError(str(e)) from None
    settings = get_settings()
    key = settings.signing_key()  # refuses without one: only `keys init` makes it
    # An operator's export is the whole record: no label is withheld.
    axis: dict[str, Any] = {
        "as_recorded_at": as_recorded_at,
        "as_effective_at": as_effective_at,
    }
    with open_app() as app:
        try:
            bundle = build_bundle(app, args.case_id, key, **axis)
        except NotYetCheckpointed:
            # An operator's explicit act may sign a new checkpoint; a GET never does.
            cp = take_checkpoint(app.store, key, settings.witness)
            errors.print(
                f"took checkpoint {cp.position} to cover the case's latest entries"
            )
            bundle = build_bundle(app, args.case_id, key, **axis)
    Path(args.out).write_text(json.dumps(bundle, indent=1, ensure_ascii=False))
    if args.html:
        Path(args.html).write_text(render_html(bundle))
    console.print(
        f"Wrote {args.out}: {len(bundle['events'])} events ({bundle['axis']}"
        f"{' ' + bundle['at'] if bundle['at'] else ''}), under checkpoint "
        f"{bundle['checkpoint']['position']}, signed by "
        f"{bundle['signature']['public_key']}. Check it with tools/verify_export.py.",
        soft_wrap=True,
    )
    return 0 if bundle["chain"]["intact"] else 1


def _aware(option: str, text: str | None) -> datetime | None:
    """An ISO time with its timezone (a court's moment is never ambiguous)."""
    if text is None:
        return None
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"{option} needs a timezone, e.g. 2026-03-03T17:00:00+00:00")
    return at


def cmd_keys_init(args: argparse.Namespace) -> int:
    from casestream.keys import init_signing_key, public_bytes
    from casestream.shredding import init_master_key

    settings = get_settings()
    path = settings.signing_key_file
    key, created = init_signing_key(path)
    master, master_created = init_master_key(settings.master_key_file)
    if not (created or master_created) and args.if_missing:
        return 0
    verb = "created" if created else "already there, kept"
    console.print(
        f"Signing key {verb} at {path}; public key (publish it for verifiers): "
        f"{public_bytes(key).hex()}",
        soft_wrap=True,
    )
    verb = "created" if master_created else "already there, kept"
    console.print(
        f"Master key {verb} at {settings.master_key_file} (id {master.current}); it "
        "wraps each case's data key: keep it outside the database and back it up",
        soft_wrap=True,
    )
    return 0


def cmd_keys_rotate_master(args: argparse.Namespace) -> int:
    from casestream.shredding import ShreddingMapper, rotate_master_key

    path = get_settings().master_key_file
    with open_app() as app:
        mapper = app.mapper
        if not isinstance(mapper, ShreddingMapper) or mapper.keyring is None:
            raise SystemExit(f"no master key at {path}; run `casestream keys init`")
        old, new, count = rotate_master_key(path, mapper.keyring.table)
    if args.json:
        print_json({"old_key_id": old, "new_key_id": new, "rewrapped": count})
        return 0
    console.print(
        f"Master key {old} replaced by {new} in {path}; {count} data key(s) "
        "re-wrapped, no event rewritten",
        soft_wrap=True,
    )
    return 0


def cmd_keys_show(args: argparse.Namespace) -> int:
    from casestream.keys import public_bytes

    settings = get_settings()
    public = public_bytes(settings.signing_key()).hex()
    if args.json:
        print_json({"public_key": public, "path": settings.signing_key_file})
        return 0
    console.print(f"public key {public}", soft_wrap=True, highlight=False)
    console.print(f"path       {settings.signing_key_file}", soft_wrap=True)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from casestream.doctor import examine

    checks = examine(get_settings(), args.runtime_role)
    wrong = any(c.wrong for c in checks)
    if args.json:
        print_json({"ok": not wrong, "checks": checks})
        return 1 if wrong else 0
    shown = table("casestream doctor", ("check", "verdict", "detail"))
    colour = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
    for c in checks:
        shown.add_row(
            c.name, Text(c.verdict.upper(), style=colour[c.verdict]), Text(c.detail)
        )
    console.print(shown)
    return 1 if wrong else 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from casestream.migrate import migrate

    for done in migrate(get_settings()):
        console.print(f"[green]✓[/] {done}")
    return 0


def cmd_grant_runtime(args: argparse.Namespace) -> int:
    from casestream.runtime_role import grant_runtime

    granted = grant_runtime(get_settings(), args.role)  # GrantRefused: one line
    shown = table(f"What {granted.role} may do", ("table", "privileges"))
    for name, privileges in granted.tables.items():
        shown.add_row(name, ", ".join(privileges))
    console.print(shown)
    console.print(
        f"{args.role} may now read and append events, never update or delete them."
    )
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from casestream.api.auth import mint_token
    from casestream.api.identity import signing_secret

    settings = get_settings()
    secret = signing_secret(settings)  # the same secret `serve` checks with
    if secret is None:
        raise CliError(
            "no token: tokens come from the identity provider (CASESTREAM_OIDC_ISSUER)"
        )
    if args.hours * 3600 > settings.jwt_max_ttl_seconds:
        raise CliError(
            f"no token: --hours {args.hours:g} exceeds CASESTREAM_JWT_MAX_TTL_SECONDS "
            f"({settings.jwt_max_ttl_seconds} s)"
        )
    if args.hours <= 0:
        raise CliError(f"no token: --hours must be more than 0, not {args.hours:g}")
    now = datetime.now(UTC).replace(microsecond=0)  # as the token holds it
    ttl = timedelta(hours=args.hours)
    try:
        token = mint_token(
            secret,
            args.user,
            args.role,
            unit=args.unit,
            cases=tuple(args.case),
            ttl=ttl,
            now=now,
            issuer=settings.jwt_issuer or None,
            audience=settings.jwt_audience or None,
            partner=args.partner,
        )
    except ValueError as e:  # what the server would refuse: say so, in one line
        raise CliError(f"no token: {e}") from e
    if args.json:
        print_json(
            {
                "token": token,
                "user": args.user,
                "role": args.role,
                "unit": args.unit,
                "cases": list(args.case),
                "partner": args.partner,
                "issued_at": now,
                "expires_at": now + ttl,
            }
        )
        return 0
    sys.stdout.write(token + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="casestream", description="Event-sourced probation case history."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, use: StoreUse | None, help: str) -> OneLineParser:
        made: OneLineParser = sub.add_parser(name, help=help)
        made.set_defaults(store_use=use)
        return made

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--json", action="store_true", help="machine-readable output, whole ids"
        )

    serve = command("serve", "write", help="serve the HTTP API (uvicorn)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=cmd_serve)

    demo = command("demo", "write", help="write a realistic demo caseload")
    demo.add_argument("--people", type=int, default=200)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--months",
        type=int,
        default=DEFAULT_DEMO_MONTHS,
        help="cases were opened up to this many months ago (default: %(default)s)",
    )
    demo.add_argument(
        "--one-by-one",
        action="store_true",
        help="write each entry as its own command and transaction (slow); by default "
        "each person's history is built in memory and saved in batches",
    )
    demo.add_argument(
        "--if-empty", action="store_true", help="only if the store has no events yet"
    )
    demo.set_defaults(func=cmd_demo)

    names = ["caseload", "audit", "sealed"]
    project = command("project", "write", help="run projections as a standalone worker")
    project.add_argument("name", choices=[*names, "all"])
    project.set_defaults(func=cmd_project)

    rebuild = command(
        "rebuild",
        "write",
        help="rebuild a read model from position 0 into new tables, then swap",
    )
    rebuild.add_argument("name", choices=names)
    rebuild.add_argument("--batch-size", type=int, default=1000)
    rebuild.add_argument(
        "--restart",
        action="store_true",
        help="discard a rebuild that was cut off instead of resuming it",
    )
    keep_help = (
        "keep the newest N generations, the serving one included (default "
        "%(default)s); older ones are dropped unless a server still reads them"
    )
    rebuild.add_argument("--keep", type=int, default=KEEP_GENERATIONS, help=keep_help)
    rebuild.set_defaults(func=cmd_rebuild)

    prune = command(
        "prune",
        "write",
        help="drop a read model's old generations that no server reads",
    )
    prune.add_argument("name", choices=names)
    prune.add_argument("--keep", type=int, default=KEEP_GENERATIONS, help=keep_help)
    prune.set_defaults(func=cmd_prune)

    relay = command("relay", "read", help="publish the event feed to a message broker")
    relay_sub = relay.add_subparsers(dest="broker", required=True)
    relay_nats = relay_sub.add_parser(
        "nats",
        help="into a NATS JetStream stream, exactly once, in feed order (resumes "
        "after the last event the stream holds)",
    )
    relay_nats.add_argument("--url", default="nats://127.0.0.1:4222")
    relay_nats.add_argument("--stream", default="CASESTREAM")
    relay_nats.add_argument(
        "--subject-prefix",
        default="casestream",
        help="subjects are PREFIX.<aggregate>.<event type> (default: %(default)s)",
    )
    relay_nats.add_argument(
        "--duplicate-window",
        type=float,
        default=3600.0,
        help="seconds JetStream remembers message ids, when it creates the stream",
    )
    relay_nats.add_argument("--batch-size", type=int, default=500)
    relay_nats.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for NATS to answer (connect, ack); default %(default)s",
    )
    relay_nats.add_argument(
        "--once", action="store_true", help="publish what the store holds, then exit"
    )
    relay_nats.set_defaults(func=cmd_relay_nats)

    status = command("status", "read", help="each projection's position and lag")
    json_flag(status)
    status.set_defaults(func=cmd_status)

    verify = command(
        "verify",
        "read",
        help="recompute every hash chain, checkpoint signature and witness",
    )
    verify.add_argument("--case", type=case_id, default=None)
    verify.add_argument(
        "--witness",
        default=None,
        help="compare the checkpoints with this witness directory "
        "(default: CASESTREAM_WITNESS_DIR)",
    )
    json_flag(verify)
    verify.set_defaults(func=cmd_verify)

    compact = command(
        "compact",
        "write",
        help="after erasures: make deleted and overwritten rows unrecoverable from the "
        "database files (SQLite VACUUM + WAL truncate; PostgreSQL VACUUM FULL, as the "
        "tables' owner)",
    )
    json_flag(compact)
    compact.set_defaults(func=cmd_compact)

    checkpoint = command(
        "checkpoint", "read", help="sign and record a root over all chain heads"
    )
    checkpoint.set_defaults(func=cmd_checkpoint)

    keys = command("keys", None, help="the agency's signing key and master key")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_init = keys_sub.add_parser(
        "init",
        help="create the signing key (CASESTREAM_SIGNING_KEY_PATH) and the master "
        "key (CASESTREAM_MASTER_KEY_PATH) once",
    )
    keys_init.add_argument(
        "--if-missing", action="store_true", help="say nothing if it already exists"
    )
    keys_init.set_defaults(func=cmd_keys_init)
    keys_rotate = keys_sub.add_parser(
        "rotate-master",
        help="replace the master key (CASESTREAM_MASTER_KEY_PATH) and re-wrap every "
        "case's data key under the new one; events are not touched",
    )
    json_flag(keys_rotate)
    keys_rotate.set_defaults(func=cmd_keys_rotate_master)
    keys_show = keys_sub.add_parser(
        "show", help="the signing key's public key and where the key is"
    )
    json_flag(keys_show)
    keys_show.set_defaults(func=cmd_keys_show)

    doctor = command(
        "doctor",
        None,
        help="check the store, its triggers and roles, the read models, the key "
        "and the clock (exit status 1 if anything is wrong)",
    )
    doctor.add_argument(
        "--runtime-role",
        default=None,
        help="PostgreSQL: check this role's rights instead of the one connected as",
    )
    json_flag(doctor)
    doctor.set_defaults(func=cmd_doctor)

    export = command("export", "read", help="a signed, verifiable bundle of one case")
    export.add_argument("case_id", type=case_id)
    export.add_argument("--out", required=True)
    export.add_argument("--html", default=None, help="also write a readable page")
    moment = export.add_mutually_exclusive_group()
    moment.add_argument(
        "--as-recorded-at",
        default=None,
        help="the record as it stood at this ISO time (only entries recorded by then)",
    )
    moment.add_argument(
        "--as-effective-at",
        default=None,
        help="every entry, and what was in effect at this ISO time (late flagged)",
    )
    moment.add_argument("--at", default=None, help=argparse.SUPPRESS)  # old name
    export.set_defaults(func=cmd_export)

    migrate = command(
        "migrate",
        "owner",
        help="create every table the service needs (run as the owner)",
    )
    migrate.set_defaults(func=cmd_migrate)

    grant = command(
        "grant-runtime",
        "owner",
        help="PostgreSQL: let a role append and read events, no more",
    )
    grant.add_argument("role")
    grant.set_defaults(func=cmd_grant_runtime)

    token = command("token", None, help="mint a development bearer token")
    token.add_argument("--user", required=True)
    token.add_argument(
        "--role",
        required=True,
        choices=[
            "officer",
            "supervisor",
            "auditor",
            "court",
            "consumer",
            "admin",
            "partner",
        ],
    )
    token.add_argument("--unit", default=None)
    token.add_argument(
        "--partner",
        type=partner_id,
        default=None,
        help="the partner organisation a partner user acts for (its id)",
    )
    token.add_argument(
        "--case",
        type=case_id,
        action="append",
        default=[],
        help="a case granted to a court user",
    )
    token.add_argument("--hours", type=float, default=8.0)
    json_flag(token)
    token.set_defaults(func=cmd_token)

    history = command("history", "read", help="print a case's history as a table")
    history.add_argument("case_id", type=case_id)
    json_flag(history)
    history.set_defaults(func=cmd_history)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; an expected failure is one line on stderr and status 2."""
    args = build_parser().parse_args(argv)
    where = "the store"
    try:
        settings = get_settings()
        health = store().health()
        where = health.location
        preflight(health, args.store_use, settings.create_tables)
        code: int = args.func(args)
    except EXPECTED as e:
        line = one_line(e, where)
        if line is None:
            raise
        return fail(line)
    return code


if __name__ == "__main__":
    sys.exit(main())
