"""Waking readers when events are stored: PostgreSQL's LISTEN/NOTIFY where there is
one, a timed poll everywhere (the fallback, and all SQLite and memory have).

Every append notifies the events table's channel in its own transaction, so the
notification arrives when the events are committed and readable. A reader marks the
count of notifications before it reads, and waits for a later one: a notification
that came while it was reading is not missed.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from psycopg.sql import SQL, Identifier

logger = logging.getLogger(__name__)

# A waiter looks at its stop flag at least this often.
STOP_CHECK_SECONDS = 0.25


class Changes:
    """No notifications: a wait is a poll interval (SQLite, memory)."""

    def mark(self) -> int:
        """Take before reading: a later ``wait`` returns on a change after it."""
        return 0

    def wait(self, mark: int, timeout: float, stop: threading.Event) -> bool:
        """Wait up to ``timeout`` for events stored after ``mark`` (or ``stop``);
        True when told of a change, False when the time ran out."""
        stop.wait(timeout)
        return False

    def close(self) -> None:
        """Stop listening."""


class ListenedChanges(Changes):
    """One LISTEN connection per process, shared by every waiter; when it is lost
    (the database restarted) waiters poll until it is back."""

    def __init__(self, conninfo: str, channel: str) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._count = 0
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self.listening = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, name="casestream-listen", daemon=True
        )
        self._thread.start()

    def _bump(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def _listen(self) -> None:
        while not self._closed.is_set():
            try:
                with psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=5
                ) as conn:
                    conn.execute(SQL("LISTEN {}").format(Identifier(self._channel)))
                    self._bump()  # whatever was stored while nobody listened
                    self.listening.set()
                    while not self._closed.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._bump()
            except psycopg.Error:
                logger.warning("not listening for new events; polling", exc_info=True)
            finally:
                self.listening.clear()
            self._closed.wait(1.0)

    def mark(self) -> int:
        with self._changed:
            return self._count

    def wait(self, mark: int, timeout: float, stop: threading.Event) -> bool:
        remaining = timeout
        with self._changed:
            while self._count == mark and remaining > 0 and not stop.is_set():
                step = min(remaining, STOP_CHECK_SECONDS)
                self._changed.wait(step)
                remaining -= step
            return self._count != mark

    def close(self) -> None:
        """Ask the listener to stop; it does within a second (not waited for: a
        server's shutdown need not wait for a connection that writes nothing)."""
        self._closed.set()
