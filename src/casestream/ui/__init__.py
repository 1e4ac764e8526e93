"""The reviewer's pages: server-rendered HTML for court clerks and auditors under /ui/,
and the API docs served offline. ``install(app)`` adds them to the API's application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from casestream.ui.docs import install_docs
from casestream.ui.errors import install_page_errors
from casestream.ui.render import STATIC
from casestream.ui.routes import cases, exports, review, signin


def install(app: FastAPI) -> None:
    """Call after the API's error handlers are installed (pages wrap them)."""
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    for router in (signin.router, cases.router, review.router, exports.router):
        app.include_router(router)
    install_docs(app)
    install_page_errors(app)
