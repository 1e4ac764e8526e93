"""Read models for API processes that do not project them themselves.

With several API processes, one ``casestream project all`` worker keeps the read models up
to date and every API process reads them through ``FollowedReadModels``: the serving
generation's views, switched after a rebuild, with the same questions answered as
``LiveProjections`` answers (view, position, lag, wait).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from eventsourcing.persistence import TrackingRecorder

from casestream.application import CaseHistory
from casestream.persistence.store import Store
from casestream.projections.runner import READ_MODELS, close_view, open_view, reader_id

logger = logging.getLogger(__name__)


class ReadModels(Protocol):
    """What the API asks of the read models, whoever keeps them up to date."""

    def view(self, name: str) -> Any: ...

    def position(self, name: str) -> int: ...

    def lag(self) -> dict[str, int]: ...

    def poisoned(self) -> dict[str, int]: ...

    def wait(self, position: int | None = None, timeout: float = 10.0) -> None: ...

    def check(self) -> None: ...

    def stop(self) -> None: ...


class FollowedReadModels:
    """The views a separate projection worker maintains, read-only from here.

    It records in the registry which generations it reads, so that a rebuild's prune
    leaves them alone until it has switched."""

    def __init__(self, store: Store, check_every: float = 2.0) -> None:
        self.store = store
        self.registry = store.registry()
        self.reader = reader_id()
        self.app = CaseHistory(env=store.env(small_pool=True))
        self.views: dict[str, TrackingRecorder] = {}
        self.generations: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._check_every = check_every
        for name in READ_MODELS:
            self._open(name, self.registry.announce(self.reader, name))
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _open(self, name: str, generation: int) -> None:
        view = open_view(self.store, name, generation)
        with self._lock:
            old = self.views.get(name)
            old_generation = self.generations.get(name)
            self.views[name] = view
            self.generations[name] = generation
        if old is not None:
            close_view(old)
        if old_generation not in (None, generation):
            self.registry.leave(self.reader, name, old_generation)

    def _watch(self) -> None:
        while not self._stopping.wait(self._check_every):
            try:
                for name in READ_MODELS:
                    with self._lock:
                        held = self.generations[name]
                    self.registry.heartbeat(self.reader, name, held)
                    if self.registry.generation(name) != held:
                        # recorded as read before it is opened
                        self._open(name, self.registry.announce(self.reader, name))
            except Exception:  # the store is restarting: look again next time
                logger.warning("could not check the read models", exc_info=True)

    def view(self, name: str) -> Any:
        with self._lock:
            return self.views[name]

    def position(self, name: str) -> int:
        return self.view(name).max_tracking_id(self.app.name) or 0

    def lag(self) -> dict[str, int]:
        head = self.app.recorder.max_notification_id() or 0
        return {name: max(head - self.position(name), 0) for name in READ_MODELS}

    def poisoned(self) -> dict[str, int]:
        return {name: self.view(name).poisoned_count() for name in READ_MODELS}

    def wait(self, position: int | None = None, timeout: float = 10.0) -> None:
        target = position or self.app.recorder.max_notification_id() or 0
        deadline = time.monotonic() + timeout
        while any(self.position(name) < target for name in READ_MODELS):
            if time.monotonic() > deadline:
                raise TimeoutError(f"read models did not reach position {target}")
            time.sleep(0.05)

    def check(self) -> None:
        """Nothing runs here to fail; the worker that projects reports its own errors."""

    def stop(self) -> None:
        self._stopping.set()
        self._watcher.join(timeout=10)
        with self._lock:
            views = list(self.views.values())
        for view in views:
            close_view(view)
        try:
            self.registry.leave(self.reader)
        except Exception:  # the store is down: the records lapse on their own
            logger.warning("could not forget this reader's generations", exc_info=True)
        self.app.close()
