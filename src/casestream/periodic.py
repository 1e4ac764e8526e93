"""A job a server runs every few seconds in a background thread (alert evaluation,
webhook delivery): one shape for starting, running and stopping it."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Self

logger = logging.getLogger(__name__)


class Periodic(ABC):
    """Runs ``run_once`` every ``every`` seconds from ``start`` until ``stop``; a pass
    that fails (the store restarting) is logged and tried again next time."""

    name = "periodic"

    def __init__(self, every: float) -> None:
        self.every = every
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def run_once(self) -> object:
        """One pass."""

    def start(self) -> Self:
        """The first pass after one interval: a starting server is still catching up."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.wait(self.every):
            try:
                self.run_once()
            except Exception:
                logger.warning("a %s pass failed", self.name, exc_info=True)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
