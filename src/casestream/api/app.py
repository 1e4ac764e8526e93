"""The FastAPI application factory: the one place where the service is wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from casestream.application import CaseHistory
from casestream.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for one store; the application opens on startup, closes on shutdown."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        case_history = CaseHistory(env=settings.eventsourcing_env())
        app.state.case_history = case_history
        try:
            yield
        finally:
            case_history.close()

    app = FastAPI(
        title="casestream",
        summary="Event-sourced probation case history",
        version="0.1.0",
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    return app
