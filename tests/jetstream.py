"""NATS JetStream for the relay's tests: the server, a throwaway stream per test, and
the stream read back as a consumer reads it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

DEFAULT_TEST_NATS_URL = "nats://127.0.0.1:4222"


def nats_url() -> str:
    return os.environ.get("CASESTREAM_TEST_NATS_URL", DEFAULT_TEST_NATS_URL)


def nats_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 4222), timeout=2
        ):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class ScratchStream:
    """A stream name and subject prefix no other test uses."""

    url: str
    name: str
    prefix: str

    @classmethod
    def fresh(cls, url: str) -> ScratchStream:
        token = uuid.uuid4().hex[:12]
        return cls(url, f"T_{token.upper()}", f"t{token}")


@dataclass(frozen=True)
class Received:
    """One message as a consumer gets it."""

    sequence: int
    subject: str
    headers: dict[str, str]
    event: dict[str, Any]


async def _read(stream: ScratchStream) -> list[Received]:
    """Every message, in stream order, through an ephemeral pull consumer."""
    nc = await nats.connect(stream.url, allow_reconnect=False)
    try:
        js = nc.jetstream()
        total = (await js.stream_info(stream.name)).state.messages
        sub = await js.pull_subscribe(
            f"{stream.prefix}.>",
            stream=stream.name,
            config=ConsumerConfig(
                ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL
            ),
        )
        got: list[Received] = []
        while len(got) < total:
            for m in await sub.fetch(min(500, total - len(got)), timeout=10):
                got.append(
                    Received(
                        m.metadata.sequence.stream,
                        m.subject,
                        dict(m.headers or {}),
                        json.loads(m.data),
                    )
                )
        await sub.unsubscribe()
        return got
    finally:
        await nc.close()


def read_stream(stream: ScratchStream) -> list[Received]:
    return asyncio.run(_read(stream))


async def _count(stream: ScratchStream) -> int:
    nc = await nats.connect(stream.url, allow_reconnect=False)
    try:
        try:
            info = await nc.jetstream().stream_info(stream.name)
        except nats.js.errors.NotFoundError:
            return 0
        return int(info.state.messages)
    finally:
        await nc.close()


def message_count(stream: ScratchStream) -> int:
    return asyncio.run(_count(stream))


async def _delete(stream: ScratchStream) -> None:
    nc = await nats.connect(stream.url, allow_reconnect=False)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(stream.name)
    finally:
        await nc.close()


def delete_stream(stream: ScratchStream) -> None:
    asyncio.run(_delete(stream))


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
