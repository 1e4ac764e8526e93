"""Webhooks: alert events delivered to other systems (a supervisor's dashboard, a
text-message gateway), signed per Standard Webhooks, at least once.

The dispatcher runs beside the read models, never in a writer's path: it follows the
event store from a position of its own (stored), enqueues one delivery per subscriber
and alert event (keyed by subscriber and position, so a second dispatcher or a restart
enqueues nothing twice), and posts what is due. A failed post is retried with
exponential backoff; after ``max_attempts`` the delivery is dead-lettered (kept, with
its last answer, for an operator). Receivers drop duplicates by ``webhook-id``.
Payloads carry codes and ids only (``alerting.streamed``), never personal free text.

Subscribers and deliveries live in the store's own database (the SQLite file, the
PostgreSQL schema; an in-process SQLite database for the memory store): they are the
service's working state, not the record, so their rows change as deliveries progress.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.utils import get_topic
from standardwebhooks import Webhook as Signer

from casestream.alerting import ALERT_EVENTS, streamed
from casestream.application import CaseHistory
from casestream.domain.errors import InvalidInput
from casestream.periodic import Periodic
from casestream.persistence.webhook_db import (
    CANCELLED,
    DEAD,
    DELIVERED,
    PENDING,
    Delivery,
    WebhookDB,
    _iso,
    utc_now,
)

logger = logging.getLogger(__name__)


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes, base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret: str) -> str:
    """A subscriber's own secret: ``whsec_`` and at least 24 bytes, base64."""
    body = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(body, validate=True)
    except ValueError:
        key = b""
    if not secret.startswith("whsec_") or len(key) < 24:
        raise InvalidInput("secret", "must be whsec_ and 24 or more bytes in base64")
    return secret


def check_url(url: str) -> str:
    if not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise InvalidInput("url", "must be an http or https URL")
    return url


Post = Callable[[str, bytes, dict[str, str], float], int]


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST and return the HTTP status (an error status is an answer, not a raise)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


class WebhookDispatcher(Periodic):
    """Enqueues alert events for subscribers and delivers what is due, every
    ``every`` seconds in a thread, or once when asked (``run_once``)."""

    name = "webhook-dispatcher"

    def __init__(
        self,
        cases: CaseHistory,
        db: WebhookDB,
        *,
        every: float = 1.0,
        max_attempts: int = 8,
        backoff: float = 2.0,
        max_backoff: float = 3600.0,
        timeout: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
        post: Post = post_json,
    ) -> None:
        super().__init__(every)
        self.cases = cases
        self.db = db
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.clock = clock
        self.post = post
        self._topics = [get_topic(c) for c in ALERT_EVENTS]

    def run_once(self) -> None:
        self.enqueue()
        self.deliver()

    def enqueue(self) -> None:
        """Turn alert events after the stored position into deliveries."""
        position = self.db.position()
        hooks = self.db.subscribers()
        for page in self.cases.notification_pages(
            position, topics=self._topics, batch_size=100
        ):
            queued = []
            for notification in page:
                event: Any = self.cases.mapper.to_domain_event(notification)
                body = json.dumps(
                    {
                        "type": f"casestream.alert.{type(event).__name__}",
                        "timestamp": _iso(event.timestamp),
                        "data": streamed(event),
                    },
                    separators=(",", ":"),
                )
                for hook in hooks:
                    if notification.id <= hook.from_position:
                        continue
                    if hook.kinds and event.kind not in hook.kinds:
                        continue
                    queued.append(
                        Delivery(
                            f"{hook.id}:{notification.id}",
                            hook.id,
                            notification.id,
                            type(event).__name__,
                            body,
                            PENDING,
                            0,
                            _iso(self.clock()),
                            None,
                            None,
                            None,
                        )
                    )
            self.db.advance(queued, page[-1].id)

    def deliver(self) -> None:
        """Post every delivery that is due; settle each with its answer."""
        hooks = {h.id: h for h in self.db.subscribers(with_deleted=True)}
        for d in self.db.due(self.clock()):
            hook = hooks.get(d.webhook_id)
            now = self.clock()
            if hook is None or hook.deleted_at is not None:
                self.db.settle(
                    d.message_id,
                    status=CANCELLED,
                    attempts=d.attempts,
                    next_attempt_at=now,
                    last_status=None,
                    last_error="subscriber deleted",
                )
                continue
            signed_at = utc_now()  # receivers check it against their own clock
            headers = {
                "content-type": "application/json",
                "webhook-id": d.message_id,
                "webhook-timestamp": str(int(signed_at.timestamp())),
                "webhook-signature": Signer(hook.secret).sign(
                    d.message_id, signed_at, d.payload
                ),
            }
            status: int | None = None
            error: str | None = None
            try:
                status = self.post(hook.url, d.payload.encode(), headers, self.timeout)
            except OSError as e:  # refused, timed out, unreachable
                error = f"{type(e).__name__}: {e}"[:500]
            attempts = d.attempts + 1
            if status is not None and 200 <= status < 300:
                self.db.settle(
                    d.message_id,
                    status=DELIVERED,
                    attempts=attempts,
                    next_attempt_at=now,
                    last_status=status,
                    last_error=None,
                    delivered_at=now,
                )
                continue
            wait = min(self.backoff * 2 ** (attempts - 1), self.max_backoff)
            self.db.settle(
                d.message_id,
                status=DEAD if attempts >= self.max_attempts else PENDING,
                attempts=attempts,
                next_attempt_at=now + timedelta(seconds=wait),
                last_status=status,
                last_error=error or f"HTTP {status}",
            )
