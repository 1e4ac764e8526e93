"""The event feed into a NATS JetStream stream, for fan-out beyond one store.

Each message is what ``GET /events`` serves a consumer (the same CloudEvent, the same
redaction, sealed cases passed over), on subject ``<prefix>.<aggregate>.<event type>``,
in feed order, each exactly once.

Where to resume is read from the stream, never from a local file: the last message
carries its feed position (``Casestream-Position``), so a relay killed at any moment and
started again, here or on another machine, goes on after the last event the stream
holds. Each publish names the stream sequence it must follow
(``Nats-Expected-Last-Sequence``) and the event's id (``Nats-Msg-Id``, which JetStream
deduplicates), and the relay waits for its ack before the next: a lost ack or a second
relay on the same stream can neither repeat nor reorder an event. When the stream is not
where the relay thought, it reads the stream's end again and carries on from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
from dataclasses import dataclass

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from casestream.api.auth import Principal, Role
from casestream.api.deps import hidden_cases
from casestream.api.feed import SOURCE, read_page
from casestream.api.schemas import CloudEvent
from casestream.application import CaseHistory

logger = logging.getLogger(__name__)

POSITION_HEADER = "Casestream-Position"
MSG_ID_HEADER = "Nats-Msg-Id"
EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"
# JetStream's error code when Nats-Expected-Last-Sequence does not match the stream.
WRONG_LAST_SEQUENCE = 10071
# The relay reads the feed as a consumer does: what it hides, the relay hides.
CONSUMER = Principal(user="casestream-relay", role=Role.CONSUMER)
_TOKENS = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_POSITION = re.compile(r"[0-9]{1,18}")


class RelayFailed(Exception):
    """Raised for what an operator must fix: NATS unreachable or without JetStream,
    a stream the relay cannot resume, a bad name."""


class OutOfStep(Exception):
    """Raised when the stream is not where this relay thought (an ack was lost, or
    another relay published): the relay reads the stream's end again."""


@dataclass(frozen=True)
class RelayConfig:
    """Where to publish, and how the relay paces itself."""

    url: str = "nats://127.0.0.1:4222"
    stream: str = "CASESTREAM"
    subject_prefix: str = "casestream"
    # JetStream drops a repeated Nats-Msg-Id seen within this window. The relay's own
    # sequence check already prevents repeats; the window covers a publish whose ack
    # was lost across a restart. It costs server memory per message in the window.
    duplicate_window_seconds: float = 3600.0
    batch_size: int = 500
    poll_seconds: float = 0.5
    # How long to wait for NATS to answer (connect, ack, stream info).
    timeout_seconds: float = 10.0
    # Publish what the store holds now, then return (backfills, tests).
    once: bool = False

    def __post_init__(self) -> None:
        if not _TOKENS.fullmatch(self.subject_prefix):
            raise RelayFailed(
                f"subject prefix {self.subject_prefix!r} must be dot-separated "
                "letters, digits, '_' or '-' (no wildcards, no spaces)"
            )
        if not _STREAM_NAME.fullmatch(self.stream):
            raise RelayFailed(
                f"stream name {self.stream!r} must be letters, digits, '_' or '-'"
            )

    @property
    def subjects(self) -> str:
        return f"{self.subject_prefix}.>"


@dataclass(frozen=True)
class Message:
    """One event as a NATS message."""

    subject: str
    payload: bytes
    headers: dict[str, str]


def subject_for(event_type: str, prefix: str) -> str:
    """``casestream.probationer.ContactLogged`` → ``<prefix>.probationer.ContactLogged``."""
    return prefix + event_type.removeprefix(SOURCE)


def message_for(event: CloudEvent, prefix: str) -> Message:
    """The CloudEvent in structured mode (the JSON ``/events`` serves), its id as the
    message id, and its feed position (``int(sequence)`` is the cursor)."""
    payload = json.dumps(event.model_dump(mode="json"), separators=(",", ":"))
    return Message(
        subject_for(event.type, prefix),
        payload.encode(),
        {
            MSG_ID_HEADER: event.id,
            POSITION_HEADER: str(int(event.sequence)),
            "Content-Type": "application/cloudevents+json",
        },
    )


@dataclass(frozen=True)
class StreamEnd:
    """The last event the stream holds: its feed position and stream sequence."""

    position: int
    sequence: int


async def stream_end(js: JetStreamContext, stream: str) -> StreamEnd:
    """Where to resume: read from the stream's last message, never from a local file."""
    state = (await js.stream_info(stream)).state
    if not state.last_seq:
        return StreamEnd(0, 0)
    try:
        last = await js.get_msg(stream, seq=state.last_seq)
    except nats.js.errors.NotFoundError:
        raise RelayFailed(
            f"stream {stream} no longer holds its last message (sequence "
            f"{state.last_seq}: purged, deleted or aged out), so the relay cannot tell "
            "where to resume; delete the stream to publish the feed again from the start"
        ) from None
    position = (last.headers or {}).get(POSITION_HEADER, "")
    if not _POSITION.fullmatch(position):
        raise RelayFailed(
            f"the last message of stream {stream} (sequence {state.last_seq}) has no "
            f"{POSITION_HEADER} header: the stream must hold only the relay's messages"
        )
    return StreamEnd(int(position), state.last_seq)


async def ensure_stream(js: JetStreamContext, config: RelayConfig) -> None:
    """Create the stream if it is missing; refuse one that does not take our subjects."""
    try:
        info = await js.stream_info(config.stream)
    except nats.js.errors.NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=config.stream,
                subjects=[config.subjects],
                storage=StorageType.FILE,
                duplicate_window=config.duplicate_window_seconds,
                description="casestream's event feed (casestream relay nats)",
            )
        )
        return
    if config.subjects not in (info.config.subjects or []):
        raise RelayFailed(
            f"stream {config.stream} exists but does not take {config.subjects} "
            f"(it takes {', '.join(info.config.subjects or [])}); name another stream "
            "or pass --subject-prefix"
        )


async def connect(config: RelayConfig) -> NATS:
    """A connection that reconnects for ever once made; the first attempt is bounded
    and says in one line why it failed."""
    connected = False
    last_error: Exception | None = None

    async def note(error: Exception) -> None:
        nonlocal last_error
        if connected:  # a dropped connection is worth a warning; it reconnects
            logger.warning("NATS: %s", error or type(error).__name__)
        last_error = error

    try:
        nc = await asyncio.wait_for(
            nats.connect(
                config.url,
                name="casestream-relay",
                connect_timeout=min(config.timeout_seconds, 5.0),
                max_reconnect_attempts=-1,
                error_cb=note,
            ),
            timeout=config.timeout_seconds,
        )
    except (TimeoutError, OSError, nats.errors.Error) as e:
        why = last_error or e
        raise RelayFailed(
            f"cannot reach NATS at {config.url} within {config.timeout_seconds:g} s: "
            f"{why or type(why).__name__}"
        ) from None
    connected = True
    return nc


class Relay:
    """Publishes the feed into one stream until ``stop`` is set (or, with ``once``,
    until it has caught up with the store)."""

    def __init__(
        self, cases: CaseHistory, config: RelayConfig, stop: asyncio.Event
    ) -> None:
        self.cases = cases
        self.config = config
        self.stop = stop
        self.published = 0

    async def run(self) -> None:
        nc = await connect(self.config)
        try:
            js = nc.jetstream(timeout=self.config.timeout_seconds)
            try:
                await ensure_stream(js, self.config)
            except (
                nats.errors.NoRespondersError,
                nats.js.errors.ServiceUnavailableError,
            ):
                raise RelayFailed(
                    f"NATS at {self.config.url} has no JetStream (start nats-server "
                    "with -js)"
                ) from None
            while not self.stop.is_set():
                try:
                    await self._follow(js)
                    return
                except (OutOfStep, nats.errors.TimeoutError) as e:
                    logger.warning("reading the stream's end again: %s", e or "timeout")
                    await self._pause()
                except nats.errors.ConnectionClosedError:
                    raise RelayFailed(
                        f"the connection to {self.config.url} closed"
                    ) from None
        finally:
            await nc.close()

    async def _follow(self, js: JetStreamContext) -> None:
        end = await stream_end(js, self.config.stream)
        logger.info(
            "publishing after position %d (stream %s, sequence %d)",
            end.position,
            self.config.stream,
            end.sequence,
        )
        position, sequence = end.position, end.sequence
        while not self.stop.is_set():
            events, after = await asyncio.to_thread(self._page, position)
            for event in events:
                if self.stop.is_set():  # SIGTERM: the publish in hand was finished
                    return
                sequence = await self._publish(js, event, sequence)
            if after == position:
                if self.config.once:
                    return
                await self._pause()
            position = after

    def _page(self, after: int) -> tuple[list[CloudEvent], int]:
        """The next page exactly as ``GET /events`` serves it to a consumer."""
        return read_page(
            self.cases,
            after,
            self.config.batch_size,
            redacted=True,  # consumers never get free text (routes/events.py)
            hidden=hidden_cases(CONSUMER, self.cases, None),
        )

    async def _publish(
        self, js: JetStreamContext, event: CloudEvent, sequence: int
    ) -> int:
        """Publish one event after stream sequence ``sequence``; its own sequence."""
        message = message_for(event, self.config.subject_prefix)
        headers = {**message.headers, EXPECTED_LAST_SEQUENCE: str(sequence)}
        try:
            ack = await js.publish(
                message.subject,
                message.payload,
                headers=headers,
                timeout=self.config.timeout_seconds,
            )
        except nats.js.errors.NoStreamResponseError:
            raise RelayFailed(
                f"no stream takes {message.subject} any more (was stream "
                f"{self.config.stream} deleted?)"
            ) from None
        except nats.js.errors.APIError as e:
            if e.err_code == WRONG_LAST_SEQUENCE:
                raise OutOfStep(f"the stream moved past sequence {sequence}") from None
            raise RelayFailed(
                f"stream {self.config.stream} refused {event.id}: {e.description}"
            ) from None
        if ack.duplicate:
            raise OutOfStep(f"{event.id} is already in the stream (sequence {ack.seq})")
        self.published += 1
        return int(ack.seq)

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.config.poll_seconds)


def run(cases: CaseHistory, config: RelayConfig) -> int:
    """Relay until SIGINT or SIGTERM (or caught up, with ``once``); events published."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        relay = Relay(cases, config, stop)
        await relay.run()
        return relay.published

    return asyncio.run(main())
