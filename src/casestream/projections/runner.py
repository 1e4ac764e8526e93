"""Running the projections: live runners, batched catch-up, blue/green rebuild, lag.

Each read model lives in tables named ``<name>_g<generation>``. The live runner is the
library's ``ProjectionRunner`` (one transaction per event, exactly once by tracking).
A rebuild fills generation n+1 from position 0 in batches (one transaction per batch,
rows and position together) while generation n keeps serving, then points the registry
at n+1; servers notice and switch. Then generations older than the newest ``keep`` are
dropped, except those a server or reader recorded reading within the last
``READER_TTL_SECONDS`` (``prune``; such a one goes at a later rebuild or prune).
Views, registry and environment come from the store (``persistence/store.py``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner

from casestream.application import CaseHistory
from casestream.persistence.store import Store
from casestream.projections.audit import AuditProjection, AuditView, rows_for
from casestream.projections.caseload import CaseloadProjection, CaseloadView
from casestream.projections.poison import (
    OnPoisoned,
    PoisonAware,
    Poisoned,
    apply_or_skip,
    is_infrastructure,
    poisoned_notification,
    report,
)
from casestream.projections.registry import READER_TTL_SECONDS, Registry
from casestream.projections.sealed import SealedProjection, SealedView
from casestream.projections.source import EventReader, head

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadModel:
    """A read model: its projection (the fold). Each store has its view of it
    (``Store.view_class``), listed beside that store's views."""

    name: str
    projection: type[Projection[Any]]


READ_MODELS: dict[str, ReadModel] = {
    p.name: ReadModel(p.name, p)
    for p in (CaseloadProjection, AuditProjection, SealedProjection)
}


# Generations a rebuild keeps by default: the serving one and the one before it.
KEEP_GENERATIONS = 2


def table_name(name: str, generation: int) -> str:
    return f"{name}_g{generation}"


def reader_id() -> str:
    """Names this process's readers in the registry (host, pid, and a random part:
    a restarted process with the same pid is someone new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def open_view(store: Store, name: str, generation: int) -> TrackingRecorder:
    """The view of one generation of a read model (tables created if missing).

    The caller closes it (``close_view``) when it is not handed to a runner.
    """
    return store.open_view(READ_MODELS[name].name, table_name(name, generation))


def close_view(view: TrackingRecorder) -> None:
    """Release a view's connections (in-memory views hold none)."""
    datastore = getattr(view, "datastore", None)
    if datastore is not None:
        datastore.close()


def named_projection(
    name: str, generation: int, on_poisoned: OnPoisoned | None = None
) -> type[Projection[Any]]:
    """The projection class under a generation's name (the runner names tables by it),
    telling ``on_poisoned`` of each event it steps over."""
    base = READ_MODELS[name].projection
    attributes = {
        "name": table_name(name, generation),
        "on_poisoned": staticmethod(on_poisoned) if on_poisoned else None,
    }
    return type(base.__name__, (base,), attributes)


def process_batch(
    view: TrackingRecorder, events: list[Any], positions: list[int], tracking: Tracking
) -> None:
    """Apply a batch of events to a view in one transaction, with the last position."""
    if isinstance(view, CaseloadView | SealedView):
        view.apply(events, tracking)
    elif isinstance(view, AuditView):
        view.append(rows_for(zip(events, positions, strict=True)), tracking)
    else:  # pragma: no cover - every read model is listed above
        raise TypeError(view)


def catch_up(
    reader: EventReader,
    view: TrackingRecorder,
    *,
    batch_size: int = 1000,
    stop_at: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    name: str = "",
    on_poisoned: OnPoisoned | None = None,
) -> int:
    """Bring a view up to the store's head (or ``stop_at``) in batched transactions.

    An event that cannot be read back or applied is stepped over and recorded
    (``projections/poison.py``); the rest of its batch is applied as usual.
    """
    assert isinstance(view, PoisonAware), view
    name = name or type(view).__name__
    position = view.max_tracking_id(reader.name) or 0
    last = stop_at if stop_at is not None else head(reader)
    for notifications in reader.notification_pages(
        position, last, batch_size=batch_size
    ):
        batch: list[tuple[Any, int]] = []
        for n in notifications:
            try:
                batch.append((reader.mapper.to_domain_event(n), n.id))
            except Exception as error:
                if is_infrastructure(error):
                    raise
                apply_batch(reader.name, view, batch, name, on_poisoned)
                batch = []
                poisoned = poisoned_notification(n, error)
                view.skip(poisoned, Tracking(reader.name, n.id))
                report(name, poisoned, on_poisoned)
        apply_batch(reader.name, view, batch, name, on_poisoned)
        position = notifications[-1].id
        if progress is not None:
            progress(position, last)
    return position


def apply_batch(
    application_name: str,
    view: PoisonAware,
    batch: list[tuple[Any, int]],
    name: str,
    on_poisoned: OnPoisoned | None,
) -> None:
    """Apply events in one transaction; if one of them cannot be applied, apply them
    one at a time, stepping over those that cannot."""
    if not batch:
        return
    events, positions = [e for e, _ in batch], [p for _, p in batch]
    try:
        process_batch(
            view, events, positions, Tracking(application_name, positions[-1])
        )
    except Exception as error:
        if is_infrastructure(error):
            raise
        for event, position in batch:
            tracking = Tracking(application_name, position)

            def apply_one(
                e: Any = event, p: int = position, t: Tracking = tracking
            ) -> None:
                process_batch(view, [e], [p], t)

            apply_or_skip(view, name, event, tracking, apply_one, on_poisoned)


def rebuild(
    store: Store,
    name: str,
    *,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    restart: bool = False,
    keep: int = KEEP_GENERATIONS,
    pruned: Callable[[Pruned], None] | None = None,
) -> int:
    """Build the next generation from position 0, make it the one that serves, then
    drop the generations older than the newest ``keep`` that nobody reads (``prune``)."""
    if keep < 1:
        raise ValueError("keep at least the serving generation (keep >= 1)")
    registry = store.registry()
    current = registry.generation(name)
    new = current + 1
    with CaseHistory(env=store.env(small_pool=True)) as app:
        view = open_view(store, name, new)
        if restart:
            drop(view)
            close_view(view)
            view = open_view(store, name, new)
        # A rebuild that was cut off resumes where its last batch committed.
        try:
            catch_up(
                app,
                view,
                batch_size=batch_size,
                progress=progress,
                name=table_name(name, new),
            )
            analyze = getattr(view, "analyze", None)
            if analyze is not None:
                analyze()  # before it serves: the planner must know the new table
        finally:
            close_view(view)
        registry.set_generation(name, new)
    # Servers switch on their next look at the registry; what they still read stays.
    outcome = prune(store, name, keep=keep)
    if pruned is not None:
        pruned(outcome)
    return new


@dataclass(frozen=True)
class Pruned:
    """What a prune dropped, and what it kept although old, because it is read."""

    dropped: list[int] = field(default_factory=list)
    still_read: list[int] = field(default_factory=list)


def prune(
    store: Store,
    name: str,
    *,
    keep: int = KEEP_GENERATIONS,
    within_seconds: float = READER_TTL_SECONDS,
) -> Pruned:
    """Drop the tables of every generation older than the newest ``keep`` (the
    serving one counts), unless a reader recorded reading it within ``within_seconds``.

    The rule needs no clock agreement and no waiting: servers and readers record what
    they read before they open it and each time they look at the registry (every two
    seconds), and forget it when they let it go; one that crashed stops recording and
    no longer holds anything back after ``within_seconds``. Generations newer than the
    serving one (a rebuild in progress) are never touched.
    """
    registry = store.registry()
    serving = registry.generation(name)
    read = registry.in_use(name, within_seconds)
    outcome = Pruned()
    for generation in sorted(registry.built(name)):
        if generation > serving - keep:
            continue
        if generation in read:
            outcome.still_read.append(generation)
            continue
        stale = open_view(store, name, generation)
        drop(stale)
        close_view(stale)
        outcome.dropped.append(generation)
    return outcome


def drop(view: TrackingRecorder) -> None:
    dropper = getattr(view, "drop", None)
    if dropper is not None:
        dropper()


@dataclass
class Status:
    name: str
    generation: int
    position: int
    head: int
    poisoned: int = 0
    # The first of them (whole ids), for an operator to look at before a rebuild.
    poisoned_events: tuple[Poisoned, ...] = ()

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


def status(store: Store, app: CaseHistory) -> list[Status]:
    """Each read model's position against the store's head."""
    registry = store.registry()
    head = app.recorder.max_notification_id() or 0
    found = []
    for name in READ_MODELS:
        generation = registry.generation(name)
        view = open_view(store, name, generation)
        try:
            assert isinstance(view, PoisonAware), view
            position = view.max_tracking_id(app.name) or 0
            count = view.poisoned_count()
            found.append(
                Status(
                    name,
                    generation,
                    position,
                    head,
                    count,
                    tuple(view.poisoned_events()) if count else (),
                )
            )
        finally:
            close_view(view)
    return found


class LiveProjections:
    """Runs every read model in the background for a server, following rebuilds.

    Each read model gets the library's ``ProjectionRunner`` on its serving generation;
    a watcher thread checks the registry and, after a rebuild elsewhere, starts a runner
    on the new generation before the old one is stopped. A runner whose thread stopped
    on an error (the database restarted under it) is started again the same way: it
    resumes from its tracked position, so nothing is skipped or applied twice.
    """

    def __init__(
        self,
        store: Store,
        check_every: float = 2.0,
        names: tuple[str, ...] = tuple(READ_MODELS),
        on_poisoned: OnPoisoned | None = None,
    ) -> None:
        self.store = store
        self.names = names
        self.on_poisoned = on_poisoned
        self.registry: Registry = store.registry()
        self.reader = reader_id()
        self.runners: dict[str, ProjectionRunner[Any, Any]] = {}
        self.generations: dict[str, int] = {}
        # The error each failed runner stopped on, until it is started again.
        self._errors: dict[str, Exception] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._check_every = check_every
        for name in names:
            self._start(name, self.registry.announce(self.reader, name))
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _start(self, name: str, generation: int, *, restart: bool = False) -> None:
        model = READ_MODELS[name]
        # After a restart the tables are there: no DDL, whose locks on the events
        # table, taken while writers are busy, can deadlock with them.
        env = self.store.env(small_pool=True, create_tables=False if restart else None)
        # Catch up in batches first (fast after a restart or on a new store) ...
        view = open_view(self.store, name, generation)
        try:
            with CaseHistory(env=env) as app:
                catch_up(
                    app,
                    view,
                    name=table_name(name, generation),
                    on_poisoned=self.on_poisoned,
                )
        finally:
            close_view(view)
        # ... then follow live, one event per transaction.
        runner: ProjectionRunner[Any, Any] = ProjectionRunner(
            application_class=CaseHistory,
            projection_class=named_projection(name, generation, self.on_poisoned),
            view_class=self.store.view_class(model.name),
            env=env,
        )
        runner.__enter__()
        with self._lock:
            old = self.runners.get(name)
            old_generation = self.generations.get(name)
            self.runners[name] = runner
            self.generations[name] = generation
            self._errors.pop(name, None)
        if old is not None:
            try:
                old.__exit__(None, None, None)
            except Exception:  # it had failed: its error was reported by check()
                logger.warning("a stopped %s runner had failed", name, exc_info=True)
        if old_generation not in (None, generation):
            self.registry.leave(self.reader, name, old_generation)

    def _watch(self) -> None:
        while not self._stopping.wait(self._check_every):
            try:
                failed = self.failures()
                for name in self.names:
                    with self._lock:
                        held = self.generations.get(name)
                    if held is not None:  # still read: keep it from being pruned
                        self.registry.heartbeat(self.reader, name, held)
                    generation = self.registry.generation(name)
                    moved = generation != held
                    if moved:  # recorded as read before it is opened
                        generation = self.registry.announce(self.reader, name)
                    if moved or name in failed:
                        if self._stopping.is_set():
                            return
                        self._start(name, generation, restart=not moved)
            except Exception:  # the store is restarting: look again next time
                logger.warning("could not check or restart a read model", exc_info=True)

    def view(self, name: str) -> Any:
        with self._lock:
            return self.runners[name].view

    def wait(self, position: int | None = None, timeout: float = 10.0) -> None:
        """Block until every read model has processed ``position`` (default: the head)."""
        with self._lock:
            runners = list(self.runners.values())
        for runner in runners:
            target = position
            if target is None:
                target = runner.app.recorder.max_notification_id()
            if target:
                runner.wait(target, timeout=timeout)

    def position(self, name: str) -> int:
        """The last global position a read model has processed."""
        with self._lock:
            runner = self.runners[name]
        return runner.view.max_tracking_id(runner.app.name) or 0

    def lag(self) -> dict[str, int]:
        with self._lock:
            runners = dict(self.runners)
        lags = {}
        for name, runner in runners.items():
            head = runner.app.recorder.max_notification_id() or 0
            position = runner.view.max_tracking_id(runner.app.name) or 0
            lags[name] = max(head - position, 0)
        return lags

    def poisoned(self) -> dict[str, int]:
        """How many events each read model has stepped over (``projections/poison.py``)."""
        with self._lock:
            runners = dict(self.runners)
        return {name: r.view.poisoned_count() for name, r in runners.items()}

    def failures(self) -> dict[str, Exception]:
        """Read models whose runner stopped on an error, and not yet started again.

        The library hands a runner's error out once (``run_forever``); it is kept
        here until the watcher has replaced the runner.
        """
        with self._lock:
            runners = dict(self.runners)
        for name, runner in runners.items():
            try:
                runner.run_forever(timeout=0)
            except Exception as e:
                with self._lock:
                    if self.runners.get(name) is runner:
                        self._errors[name] = e
        with self._lock:
            return dict(self._errors)

    def check(self) -> None:
        """Re-raise an error a runner hit (a projection that fails must not go quiet)."""
        for error in self.failures().values():
            raise error

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            runners = list(self.runners.values())
        for runner in runners:
            runner.__exit__(None, None, None)
        try:
            self.registry.leave(self.reader)
        except Exception:  # the store is down: the records lapse on their own
            logger.warning("could not forget this reader's generations", exc_info=True)

    def __enter__(self) -> LiveProjections:
        return self

    def __exit__(self, *args: object) -> None:
        self.stop()
