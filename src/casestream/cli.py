"""The ``casestream`` command: serve the API, load demo data, print a case history."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from uuid import UUID

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from casestream.application import CaseHistory
from casestream.demo import DEFAULT_MONTHS as DEFAULT_DEMO_MONTHS
from casestream.persistence.store import Store, open_store
from casestream.projections.registry import READER_TTL_SECONDS
from casestream.projections.runner import KEEP_GENERATIONS, Pruned
from casestream.settings import get_settings

console = Console()
errors = Console(stderr=True)  # warnings stay out of output meant for pipes


def store() -> Store:
    """The store the settings name; every command takes its pieces from it."""
    return open_store(get_settings())


def open_app() -> CaseHistory:
    return CaseHistory(env=store().env())


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from casestream.api.identity import InsecureConfiguration, signing_secret
    from casestream.keys import SigningKeyMissing

    settings = get_settings()
    try:
        signing_secret(settings)  # refuse here, before uvicorn starts
        if settings.env != "development":
            settings.signing_key()
    except (InsecureConfiguration, SigningKeyMissing) as e:
        errors.print(f"[red]Refusing to serve:[/] {e}", highlight=False)
        return 2
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
    console.print(f"Wrote {len(ids)} cases ({head} events in the store).")
    if ids:
        console.print(f"Try: casestream history {ids[0]}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    try:
        case_id = UUID(args.case_id)
    except ValueError:
        console.print(f"[red]Not a case id:[/] {args.case_id}")
        return 2
    from casestream.domain.errors import CaseNotFound

    with open_app() as app:
        try:
            case = app.get_case(case_id)
            history = app.history(case_id)
        except CaseNotFound:
            console.print(f"[red]No case {case_id}[/]")
            return 1
    table = Table(
        title=f"{case.person.get('name')} — {case.status}, officer {case.officer_id}, "
        f"{case.unit_id}, risk {case.risk_level or 'unassessed'}",
    )
    for column in ("v", "event", "effective", "recorded", "by", "details", "reason"):
        table.add_column(column)
    for h in history:
        table.add_row(
            str(h.version),
            h.event_type,
            f"{h.effective_at:%Y-%m-%d}" if h.effective_at else "",
            f"{h.recorded_at:%Y-%m-%d %H:%M:%S}" if h.recorded_at else "",
            f"{h.actor_id} ({h.actor_role})",
            h.summary,
            h.reason or "",
        )
    console.print(table)
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    from casestream.projections.runner import READ_MODELS, LiveProjections

    names = tuple(READ_MODELS) if args.name == "all" else (args.name,)
    live = LiveProjections(store(), names=names)
    console.print(f"Projecting {', '.join(names)}; Ctrl-C to stop.")
    try:
        while True:
            live.check()  # re-raises a projection error, which ends the worker
            import time

            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
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

    with open_app() as app:
        rows = status(store(), app)
    table = Table(title="Projections")
    columns = ("read model", "generation", "position", "store head", "lag", "poisoned")
    for column in columns:
        table.add_column(column)
    for s in rows:
        table.add_row(
            s.name,
            str(s.generation),
            str(s.position),
            str(s.head),
            str(s.lag),
            str(s.poisoned),
        )
    console.print(table)
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
            UUID(args.case) if args.case else None,
            public_key=public_key,
            snapshots=app.sealed_snapshots,
            witness=witness,
        )
    # Whole ids and problems, one per line: a log of this names the broken case.
    for c in verdict.cases:
        if not c.intact or args.case:
            line = "intact" if c.intact else f"BROKEN at v{c.broken_at}: {c.problem}"
            console.print(f"case {c.originator_id} ({c.versions} versions): {line}")
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
    return 0 if verdict.intact and public_key else 1


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from casestream.checkpoints import take_checkpoint

    settings = get_settings()
    key = settings.signing_key()
    with open_app() as app:
        cp = take_checkpoint(app.store, key, settings.witness)
    console.print(
        f"Checkpoint at position {cp.position}: {cp.cases} cases, root {cp.root.hex()}, "
        f"signed {cp.signed_at.isoformat()}",
        soft_wrap=True,
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import json
    from datetime import datetime
    from pathlib import Path

    from casestream.checkpoints import take_checkpoint
    from casestream.domain.errors import NotYetCheckpointed
    from casestream.export import build_bundle, render_html

    at = datetime.fromisoformat(args.at) if args.at else None
    if at is not None and at.tzinfo is None:
        console.print("[red]--at needs a timezone, e.g. 2026-03-03T17:00:00+00:00")
        return 2
    settings = get_settings()
    key = settings.signing_key()
    with open_app() as app:
        try:
            bundle = build_bundle(app, UUID(args.case_id), key, at)
        except NotYetCheckpointed:
            # An operator's explicit act may sign a new checkpoint; a GET never does.
            cp = take_checkpoint(app.store, key, settings.witness)
            errors.print(
                f"took checkpoint {cp.position} to cover the case's latest entries"
            )
            bundle = build_bundle(app, UUID(args.case_id), key, at)
    Path(args.out).write_text(json.dumps(bundle, indent=1, ensure_ascii=False))
    if args.html:
        Path(args.html).write_text(render_html(bundle))
    console.print(
        f"Wrote {args.out}: {len(bundle['events'])} events, under checkpoint "
        f"{bundle['checkpoint']['position']}, signed by "
        f"{bundle['signature']['public_key']}. Check it with tools/verify_export.py.",
        soft_wrap=True,
    )
    return 0 if bundle["chain"]["intact"] else 1


def cmd_keys_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from casestream.keys import init_signing_key, public_bytes

    path = Path(get_settings().signing_key_path)
    key, created = init_signing_key(path)
    if not created and args.if_missing:
        return 0
    verb = "created" if created else "already there, kept"
    console.print(
        f"Signing key {verb} at {path}; public key (publish it for verifiers): "
        f"{public_bytes(key).hex()}",
        soft_wrap=True,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from casestream.migrate import migrate

    for done in migrate(get_settings()):
        console.print(f"[green]✓[/] {done}")
    return 0


def cmd_grant_runtime(args: argparse.Namespace) -> int:
    from casestream.runtime_role import GrantRefused, grant_runtime

    try:
        granted = grant_runtime(get_settings(), args.role)
    except GrantRefused as e:
        sys.stderr.write(f"{e}\n")  # one line, unwrapped: scripts read it
        return 2
    table = Table(title=f"What {granted.role} may do")
    for column in ("table", "privileges"):
        table.add_column(column)
    for name, privileges in granted.tables.items():
        table.add_row(name, ", ".join(privileges))
    console.print(table)
    console.print(
        f"{args.role} may now read and append events, never update or delete them."
    )
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from casestream.api.auth import mint_token
    from casestream.api.identity import InsecureConfiguration, signing_secret

    settings = get_settings()
    try:
        secret = signing_secret(settings)  # the same secret `serve` checks with
    except InsecureConfiguration as e:
        errors.print(f"[red]No token:[/] {e}", highlight=False)
        return 2
    if secret is None:
        errors.print("[red]No token:[/] tokens come from the identity provider")
        return 2
    if args.hours * 3600 > settings.jwt_max_ttl_seconds:
        errors.print("[red]No token:[/] --hours exceeds CASESTREAM_JWT_MAX_TTL_SECONDS")
        return 2
    try:
        token = mint_token(
            secret,
            args.user,
            args.role,
            unit=args.unit,
            cases=tuple(args.case),
            ttl=timedelta(hours=args.hours),
            issuer=settings.jwt_issuer or None,
            audience=settings.jwt_audience or None,
        )
    except ValueError as e:
        errors.print(f"[red]No token:[/] {e}", highlight=False)
        return 2
    sys.stdout.write(token + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="casestream", description="Event-sourced probation case history."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the HTTP API (uvicorn)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="write a realistic demo caseload")
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

    names = ["caseload", "audit"]
    project = sub.add_parser("project", help="run projections as a standalone worker")
    project.add_argument("name", choices=[*names, "all"])
    project.set_defaults(func=cmd_project)

    rebuild = sub.add_parser(
        "rebuild",
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

    prune = sub.add_parser(
        "prune", help="drop a read model's old generations that no server reads"
    )
    prune.add_argument("name", choices=names)
    prune.add_argument("--keep", type=int, default=KEEP_GENERATIONS, help=keep_help)
    prune.set_defaults(func=cmd_prune)

    relay = sub.add_parser("relay", help="publish the event feed to a message broker")
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

    status = sub.add_parser("status", help="each projection's position and lag")
    status.set_defaults(func=cmd_status)

    verify = sub.add_parser(
        "verify", help="recompute every hash chain, checkpoint signature and witness"
    )
    verify.add_argument("--case", default=None)
    verify.add_argument(
        "--witness",
        default=None,
        help="compare the checkpoints with this witness directory "
        "(default: CASESTREAM_WITNESS_DIR)",
    )
    verify.set_defaults(func=cmd_verify)

    checkpoint = sub.add_parser(
        "checkpoint", help="sign and record a root over all chain heads"
    )
    checkpoint.set_defaults(func=cmd_checkpoint)

    keys = sub.add_parser("keys", help="the agency's signing key")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_init = keys_sub.add_parser(
        "init", help="create the signing key (CASESTREAM_SIGNING_KEY_PATH) once"
    )
    keys_init.add_argument(
        "--if-missing", action="store_true", help="say nothing if it already exists"
    )
    keys_init.set_defaults(func=cmd_keys_init)

    export = sub.add_parser("export", help="a signed, verifiable bundle of one case")
    export.add_argument("case_id")
    export.add_argument("--out", required=True)
    export.add_argument("--html", default=None, help="also write a readable page")
    export.add_argument("--at", default=None, help="answer as of this ISO time")
    export.set_defaults(func=cmd_export)

    migrate = sub.add_parser(
        "migrate", help="create every table the service needs (run as the owner)"
    )
    migrate.set_defaults(func=cmd_migrate)

    grant = sub.add_parser(
        "grant-runtime", help="PostgreSQL: let a role append and read events, no more"
    )
    grant.add_argument("role")
    grant.set_defaults(func=cmd_grant_runtime)

    token = sub.add_parser("token", help="mint a development bearer token")
    token.add_argument("--user", required=True)
    token.add_argument(
        "--role",
        required=True,
        choices=["officer", "supervisor", "auditor", "court", "consumer", "admin"],
    )
    token.add_argument("--unit", default=None)
    token.add_argument(
        "--case", action="append", default=[], help="a case granted to a court user"
    )
    token.add_argument("--hours", type=float, default=8.0)
    token.set_defaults(func=cmd_token)

    history = sub.add_parser("history", help="print a case's history as a table")
    history.add_argument("case_id")
    history.set_defaults(func=cmd_history)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from casestream.keys import SigningKeyMissing

    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SigningKeyMissing as e:
        errors.print(f"casestream: {e}")
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
