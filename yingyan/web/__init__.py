"""The console (command centre) and the officer's terminal: pages and their files, served by Yingyan.

Everything a page loads comes from here (no CDN, no map tiles, no web fonts: police networks are
offline): plain HTML, CSS and JavaScript modules without a build step, and uPlot (MIT, vendored
under ``static/vendor``) for the charts. ``mount(app)`` adds them to the service's API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Serve ``/console``, ``/terminal`` and their files under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/console")

    @app.get("/console", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(STATIC / "console.html", headers={"Cache-Control": "no-cache"})

    @app.get("/terminal", include_in_schema=False)
    def terminal() -> FileResponse:
        return FileResponse(STATIC / "terminal.html", headers={"Cache-Control": "no-cache"})
