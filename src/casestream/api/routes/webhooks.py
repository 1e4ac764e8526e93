"""Webhook subscribers (admin): who gets which alert events, and the delivery log.

Delivery happens in the dispatcher (``casestream/webhooks.py``), beside the read
models, never in a request: a slow or failing receiver cannot hold up a writer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field

from casestream.api.auth import Permission, require
from casestream.api.deps import CaseHistoryDep, PrincipalDep
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import Page, Schema, Timestamp
from casestream.domain.errors import NotFound
from casestream.domain.values import AlertKind
from casestream.persistence.webhook_db import WebhookDB
from casestream.webhooks import check_secret, check_url, new_secret

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=PROBLEM_RESPONSES)

WebhookId = Annotated[str, Path(min_length=1, max_length=100)]


class AddWebhook(Schema):
    """A subscriber: where to post, which alert kinds (none: every kind), and its
    Standard Webhooks secret (``whsec_…``; generated when not given)."""

    url: str = Field(min_length=1, max_length=2000)
    kinds: list[AlertKind] = Field(default_factory=list, max_length=20)
    secret: str | None = Field(default=None, min_length=1, max_length=200)


class WebhookView(Schema):
    """A system subscribed to alert events."""

    id: str = Field(description="The subscription.")
    url: str = Field(description="Where events are POSTed.")
    kinds: list[str] = Field(description="Alert kinds sent; empty: every kind.")
    created_at: Timestamp = Field(description="When it was subscribed.")
    created_by: str = Field(description="The admin who subscribed it.")


class WebhookCreated(WebhookView):
    """The secret is shown once, here; lists never carry it."""

    secret: str = Field(description="The signing secret (`whsec_…`), shown once.")


class WebhookPage(Page[WebhookView]):
    """Subscriptions, oldest first (one page)."""


class DeliveryView(Schema):
    """One event's delivery to one subscriber, and how it went."""

    id: str = Field(description="The `webhook-id` the receiver sees (drop repeats).")
    webhook_id: str = Field(description="The subscription.")
    position: int = Field(description="The event's position in the store.")
    type: str = Field(description="The event type.")
    status: str = Field(description="`pending`, `delivered` or `dead` (given up).")
    attempts: int = Field(description="Attempts made so far.")
    next_attempt_at: Timestamp = Field(description="When it is next tried.")
    last_status: int | None = Field(description="The receiver's last HTTP status.")
    last_error: str | None = Field(description="The last failure, in words.")
    delivered_at: Timestamp | None = Field(description="When it was delivered.")


class DeliveryPage(Page[DeliveryView]):
    """Deliveries, by event position."""


def webhook_db(request: Request) -> WebhookDB:
    db: WebhookDB = request.app.state.webhooks
    return db


@router.post("", status_code=201)
def add_webhook(
    body: AddWebhook, request: Request, principal: PrincipalDep, cases: CaseHistoryDep
) -> WebhookCreated:
    """Subscribe a URL to alert events from now on."""
    require(principal, Permission.MANAGE_WEBHOOKS)
    secret = check_secret(body.secret) if body.secret else new_secret()
    hook = webhook_db(request).add(
        check_url(body.url),
        [str(k) for k in body.kinds],
        secret,
        cases.recorder.max_notification_id() or 0,
        principal.user,
    )
    return WebhookCreated(
        id=hook.id,
        url=hook.url,
        kinds=hook.kinds,
        created_at=datetime.fromisoformat(hook.created_at),
        created_by=hook.created_by,
        secret=secret,
    )


@router.get("")
def list_webhooks(request: Request, principal: PrincipalDep) -> WebhookPage:
    """The systems that receive alert events (admins only; secrets never shown)."""
    require(principal, Permission.MANAGE_WEBHOOKS)
    return WebhookPage(
        items=[
            WebhookView(
                id=h.id,
                url=h.url,
                kinds=h.kinds,
                created_at=datetime.fromisoformat(h.created_at),
                created_by=h.created_by,
            )
            for h in webhook_db(request).subscribers()
        ],
        next=None,
    )


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(
    webhook_id: WebhookId, request: Request, principal: PrincipalDep
) -> Response:
    """Stop delivering to a subscriber; its delivery log stays readable."""
    require(principal, Permission.MANAGE_WEBHOOKS)
    if not webhook_db(request).delete(webhook_id):
        raise NotFound(f"no webhook {webhook_id}")
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: WebhookId,
    request: Request,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryPage:
    """Every delivery to a subscriber, by store position: pending, delivered, dead."""
    require(principal, Permission.MANAGE_WEBHOOKS)
    db = webhook_db(request)
    if db.get(webhook_id) is None:
        raise NotFound(f"no webhook {webhook_id}")
    found = db.deliveries(webhook_id, after, limit)
    return DeliveryPage(
        items=[
            DeliveryView(
                id=d.message_id,
                webhook_id=d.webhook_id,
                position=d.position,
                type=d.event_type,
                status=d.status,
                attempts=d.attempts,
                next_attempt_at=datetime.fromisoformat(d.next_attempt_at),
                last_status=d.last_status,
                last_error=d.last_error,
                delivered_at=None
                if d.delivered_at is None
                else datetime.fromisoformat(d.delivered_at),
            )
            for d in found
        ],
        next=str(found[-1].position) if len(found) == limit else None,
    )
