"""The HTTP API (FastAPI): login, incidents and their loop, evidence, reports, KPIs, cameras,
the terminals' WebSocket, health and metrics.

Every route but login, ``/healthz`` and ``/metrics`` needs a session: ``Authorization: Bearer
<token>`` or the session cookie the login sets (for pages and images). Errors are JSON
``{"detail": "..."}`` with a 4xx status that says what is wrong: 401 no session, 403 not this
role's right, 404 nothing the user may see by that id, 409 not in this state, 422 malformed
input, 429 too many failed logins. An unexpected failure is a 500 that names a log reference,
never a stack trace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, Response, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from yingyan.service import models as m
from yingyan.service.access import Principal
from yingyan.service.api.guards import RequestGuard, unstorable
from yingyan.service.api.schemas import (
    ActionRequest,
    CameraOut,
    DepartmentOut,
    Health,
    IncidentDetail,
    IncidentSummary,
    LaneStateOut,
    LoginRequest,
    LoginResponse,
    Me,
    PhotoOut,
    Problem,
    Text,
)
from yingyan.service.auth import check_login, open_session, principal_for_token, principal_of, revoke, token_digest
from yingyan.service.db import reason_of, transient
from yingyan.service.kpi import aggregate
from yingyan.service.push.terminals import Terminal, TerminalTaken
from yingyan.service.report import report_body, report_html
from yingyan.service.runtime import ServiceRuntime
from yingyan.service.store import BadUpload, NotFound
from yingyan.service.workflow import Action, State, TransitionError

log = logging.getLogger(__name__)

COOKIE = "yingyan_session"
HAVE_MAX = 500  # alert ids a terminal may list in its hello
MULTIPART_SLACK = 64 * 1024  # a photo upload's form fields and boundaries, beside the photo
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (401, 403, 404, 409, 422)
}  # the error body every route may answer with


class Unauthorized(Exception):
    pass


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")


def principal(request: Request) -> Principal:
    """The user behind a request: its bearer token or session cookie (401 without a valid one)."""
    token = _token(request)
    if not token:
        raise Unauthorized("login required")
    runtime: ServiceRuntime = request.app.state.runtime
    with runtime.store.db.sessions() as s:
        found = principal_for_token(s, token)
    if found is None:
        raise Unauthorized("session expired or not valid: log in again")
    return found


Who = Annotated[Principal, Depends(principal)]


def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The API of one service runtime."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Yingyan incident service",
        version="1",
        description="Abnormal congestion incidents, their alerts and their closed loop (鹰眼).",
        lifespan=lifespan,
        responses=ERRORS,
        docs_url=None,  # the interactive docs load scripts from a CDN; police networks are offline
        redoc_url=None,
        max_body_size=runtime.config.body_max_bytes,  # 413 before a larger body is read
    )
    app.add_middleware(RequestGuard, allowed_origins=runtime.config.allowed_origins)
    app.state.runtime = runtime
    store = runtime.store

    # -- errors ------------------------------------------------------------------------------------

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, error: Unauthorized) -> JSONResponse:
        return JSONResponse({"detail": str(error) or "login required"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(BadUpload)
    async def _bad_upload(_: Request, error: BadUpload) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.status)

    @app.exception_handler(BadQuery)
    async def _bad_query(_: Request, error: BadQuery) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.exception_handler(TransitionError)
    async def _refused(_: Request, error: TransitionError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=403 if error.forbidden else 409)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        parts = []
        for item in error.errors():
            where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
            parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid")))
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, error: SQLAlchemyError) -> JSONResponse:
        if not transient(error):
            return await _unexpected(request, error)
        log.warning("request %s %s: database unavailable (%s)", request.method, request.url.path, reason_of(error))
        return JSONResponse({"detail": f"the database is unavailable now ({reason_of(error)}); try again"},
                            status_code=503, headers={"Retry-After": "2"})  # fmt: skip

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        reference = uuid.uuid4().hex[:12]
        log.exception("request %s %s failed (reference %s)", request.method, request.url.path, reference)
        return JSONResponse({"detail": f"internal error, logged as {reference}"}, status_code=500)

    # -- operations --------------------------------------------------------------------------------

    @app.get("/healthz", response_model=Health, tags=["operations"])
    def healthz() -> dict[str, Any]:
        """Whether alerting works: the database takes a write now, the channels deliver, nothing is stuck;
        each fault with its reason and since when."""
        runtime.faults.report("database", store.db.probe_write(runtime.instance))
        database = not runtime.faults.failing("database")
        mqtt = runtime.dispatcher.mqtt.connected if runtime.dispatcher.mqtt is not None else None
        cameras = runtime.camera_health()
        pending, failed = runtime.dispatcher.repo.counts() if database else (-1, -1)
        faults = [f.json() for f in runtime.faults.faults()]
        runtime.metrics.faults.set(len(faults))
        return {
            "status": "ok" if not faults else "degraded", "faults": faults, "database": database, "mqtt": mqtt,
            "outbox_pending": pending, "outbox_failed": failed, "terminals": runtime.hub.connected,
            "cameras": cameras,
        }  # fmt: skip

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def metrics() -> Response:
        return Response(runtime.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # -- sessions ----------------------------------------------------------------------------------

    @app.post("/api/v1/auth/login", response_model=LoginResponse, tags=["auth"], responses={429: {"model": Problem}})
    def login(body: LoginRequest, request: Request, response: Response) -> Any:
        address = request.client.host if request.client else "?"
        wait = runtime.limiter.begin(body.username, address)
        if wait > 0:
            return JSONResponse({"detail": f"too many failed logins; try again in {wait:.0f} s"}, status_code=429,
                                headers={"Retry-After": str(max(int(wait + 0.999), 1))})  # fmt: skip
        with store.db.sessions.begin() as s:
            user = s.scalar(select(m.User).where(m.User.username == body.username))
            if not check_login(user, body.password) or user is None:
                runtime.metrics.logins_failed.inc()
                log.warning("failed login for %r from %s", body.username[:64], address)
                raise Unauthorized("wrong user name or password")
            runtime.limiter.succeeded(body.username, address)
            token, expires = open_session(s, user, runtime.config.token_ttl_s)
            me = _me(principal_of(user))
        secure = {"always": True, "never": False}.get(runtime.config.cookie_secure, request.url.scheme == "https")
        response.set_cookie(COOKIE, token, max_age=int(runtime.config.token_ttl_s), httponly=True, samesite="strict",
                            secure=secure)  # fmt: skip
        return {"token": token, "expires_at": expires, "user": me}

    @app.post("/api/v1/auth/logout", status_code=204, tags=["auth"])
    def logout(request: Request, who: Who) -> Response:
        with store.db.sessions.begin() as s:
            revoke(s, _token(request))
        response = Response(status_code=204)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/api/v1/me", response_model=Me, tags=["auth"])
    def me(who: Who) -> dict[str, Any]:
        return _me(who)

    # -- incidents ---------------------------------------------------------------------------------

    @app.get("/api/v1/incidents", response_model=list[IncidentSummary], tags=["incidents"])
    def incidents(
        who: Who,
        state: Annotated[State | None, Query(description="Only incidents in this state.")] = None,
        open: Annotated[bool, Query(description="Only incidents not closed or dismissed.")] = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        return store.incidents(who, state.value if state else None, open, limit=limit)

    @app.get("/api/v1/incidents/{incident_id}", response_model=IncidentDetail, tags=["incidents"])
    def incident(incident_id: str, who: Who) -> dict[str, Any]:
        return store.incident(who, incident_id)

    @app.post("/api/v1/incidents/{incident_id}/actions", response_model=IncidentDetail, tags=["incidents"])
    def act(incident_id: str, body: ActionRequest, who: Who) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if body.reason:
            data["reason"] = body.reason
        if body.unit:
            data["unit"] = body.unit
        if body.departments:
            data["departments"] = body.departments
        store.act(who, incident_id, body.action, body.note, data)
        runtime.notify_incident(incident_id)
        return store.incident(who, incident_id)

    photo_limit = runtime.config.photo_max_bytes

    @app.post("/api/v1/incidents/{incident_id}/photos", response_model=PhotoOut, tags=["incidents"],
              responses={413: {"model": Problem}, 415: {"model": Problem}},
              max_body_size=photo_limit + MULTIPART_SLACK)  # fmt: skip
    async def photo(
        incident_id: str,
        who: Who,
        file: Annotated[UploadFile, File(description="A JPEG or PNG from the scene.")],
        note: Annotated[Text, Form(max_length=2000)] = "",
    ) -> dict[str, Any]:
        data = await file.read(photo_limit + 1)
        if len(data) > photo_limit:
            raise BadUpload(413, f"a photo may be at most {photo_limit / (1024 * 1024):.1f} MB")
        evidence_id = await asyncio.to_thread(store.add_photo, who, incident_id, data, note)
        runtime.notify_incident(incident_id)
        return {"evidence_id": evidence_id}

    @app.get("/api/v1/incidents/{incident_id}/report", tags=["incidents"])
    def report(incident_id: str, who: Who) -> dict[str, Any]:
        with store.db.sessions() as s:
            row = store.visible(s, who, incident_id)
            return report_body(store, s, row, who)

    @app.get("/api/v1/incidents/{incident_id}/report.html", response_class=HTMLResponse, tags=["incidents"])
    def report_page(
        incident_id: str, who: Who, lang: Annotated[str, Query(pattern="^(zh|en)$")] = "zh"
    ) -> HTMLResponse:
        with store.db.sessions() as s:
            row = store.visible(s, who, incident_id)
            body = report_body(store, s, row, who)
        return HTMLResponse(report_html(body, runtime.site.timezone, lang))

    @app.get("/api/v1/evidence/{evidence_id}", tags=["incidents"], response_class=FileResponse)
    def evidence(evidence_id: str, who: Who) -> FileResponse:
        path, media_type = store.evidence_file(who, evidence_id)
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/api/v1/kpis", tags=["incidents"])
    def kpis(
        who: Who,
        since: Annotated[datetime | None, Query(description="From (ISO 8601; default: 7 days ago).")] = None,
        until: Annotated[datetime | None, Query(description="Until (ISO 8601; default: now).")] = None,
    ) -> dict[str, Any]:
        end = _aware(until, "until") or datetime.now(UTC)
        begin = _aware(since, "since") or _before(end, timedelta(days=7), "until")
        with store.db.sessions() as s:
            return aggregate(s, who, begin, end)

    # -- the network ---------------------------------------------------------------------------------

    @app.get("/api/v1/cameras", response_model=list[CameraOut], tags=["network"])
    def cameras(who: Who) -> list[dict[str, Any]]:
        return store.cameras(who)

    @app.get("/api/v1/cameras/{camera_id}/states", response_model=list[LaneStateOut], tags=["network"])
    def states(
        camera_id: str,
        who: Who,
        since: Annotated[datetime | None, Query()] = None,
        until: Annotated[datetime | None, Query()] = None,
    ) -> list[dict[str, Any]]:
        return store.lane_states(who, camera_id, *_window(since, until))

    @app.get("/api/v1/network", tags=["network"])
    def network(who: Who) -> dict[str, Any]:
        """The checkpoint network as the console draws it: cameras with their place, state and health, links."""
        states = store.latest_states(who)
        health = {h["camera_id"]: h for h in runtime.camera_health()}
        cameras = []
        for cam in store.cameras(who):
            cameras.append({**cam, "state": states.get(cam["id"]), "health": health.get(cam["id"])})
        visible = {c["id"] for c in cameras}
        links = [
            {"upstream": link.upstream, "downstream": link.downstream, "distance_m": link.distance_m}
            for link in runtime.site.links
            if link.upstream in visible and link.downstream in visible
        ]
        return {"site": runtime.site.name, "timezone": runtime.site.timezone, "cameras": cameras, "links": links}

    @app.get("/api/v1/cameras/{camera_id}/frame.jpg", tags=["network"], response_class=Response)
    def frame(camera_id: str, who: Who) -> Response:
        """The camera's latest view with the analysis drawn on it (boxes, ids, speeds, lanes, queues)."""
        if camera_id not in {c["id"] for c in store.cameras(who)} or camera_id not in runtime.frames:
            raise NotFound(f"no live view of camera {camera_id}")
        time_s, jpeg = runtime.frames[camera_id]
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store",
                                                                "X-Stream-Time": f"{time_s:.1f}"})  # fmt: skip

    @app.get("/api/v1/cameras/{camera_id}/baseline", tags=["network"])
    def baseline(
        camera_id: str,
        who: Who,
        since: Annotated[datetime | None, Query()] = None,
        until: Annotated[datetime | None, Query()] = None,
    ) -> list[dict[str, Any]]:
        """The usual speed, flow and occupancy of each lane at the times of its stored intervals."""
        rows = store.lane_states(who, camera_id, *_window(since, until))
        cam = next((c for c in runtime.site.cameras if c.id == camera_id), None)
        out = []
        for row in rows:
            when = runtime.local_time(datetime.fromisoformat(row["window_start"]))
            if runtime.baseline is not None and cam is not None:
                usual = runtime.baseline.expected(camera_id, row["lane_id"], when, cam.road_class)
            elif cam is not None:
                from yingyan.incidents.baseline import cold_start

                usual = cold_start(cam.road_class)
            else:
                continue
            out.append({"lane_id": row["lane_id"], "window_start": row["window_start"], "speed_kmh": usual.speed_kmh,
                        "speed_spread_kmh": usual.speed_spread_kmh, "flow_vph": usual.flow_vph,
                        "occupancy_pct": usual.occupancy_pct, "source": usual.source})  # fmt: skip
        return out

    @app.get("/api/v1/incidents/{incident_id}/spread", tags=["incidents"])
    def spread(incident_id: str, who: Who) -> dict[str, Any]:
        """Speed along the road over the incident's time (its spread, to replay): cameras upstream to downstream."""
        detail = store.incident(who, incident_id)
        source = next((c for c in runtime.site.cameras if c.id == detail["source_camera_id"]), None)
        direction = source.direction if source is not None else None
        road = sorted(
            (c for c in runtime.site.cameras if direction is None or c.direction == direction),
            key=lambda c: c.position_m if c.position_m is not None else 0.0,
        )
        visible = {c["id"] for c in store.cameras(who)}
        ids = [c.id for c in road if c.id in visible]
        begin = datetime.fromisoformat(detail["started_at"]) - timedelta(minutes=10)
        ended = detail["ended_at"]
        end = (datetime.fromisoformat(ended) if ended else datetime.now(UTC)) + timedelta(minutes=10)
        speeds = store.speeds(ids, begin, end)
        return {
            "incident_id": incident_id, "since": begin.isoformat(), "until": end.isoformat(),
            "cameras": [{"id": c.id, "position_m": c.position_m, "speeds": speeds.get(c.id, [])}
                        for c in road if c.id in visible],
            "timeline": detail["timeline"], "source_position_m": detail["source_position_m"],
        }  # fmt: skip

    @app.get("/api/v1/departments", response_model=list[DepartmentOut], tags=["network"])
    def departments(who: Who) -> list[dict[str, str]]:
        return store.departments()

    # -- terminals -----------------------------------------------------------------------------------

    @app.websocket("/api/v1/terminal")
    async def terminal(socket: WebSocket) -> None:
        """A terminal's connection: hello with token and terminal id, then alerts out and receipts in."""
        await socket.accept()
        try:
            hello = json.loads(await asyncio.wait_for(socket.receive_text(), timeout=10.0))
            token, terminal_id = str(hello.get("token", "")), str(hello.get("terminal_id", ""))[:64]
            wants_incidents = hello.get("incidents") is True
            have = hello.get("have") or []
            have = {str(a)[:64] for a in have[:HAVE_MAX]} if isinstance(have, list) else set()
        except (TimeoutError, ValueError, AttributeError, WebSocketDisconnect):
            await _close(socket, 4400, "expected {type: hello, token, terminal_id}")
            return
        token = token or socket.cookies.get(COOKIE, "")  # a page's socket carries the session cookie
        if unstorable(token) or unstorable(terminal_id) or any(unstorable(a) for a in have):
            await _close(socket, 4400, "hello: text the service cannot store")
            return
        with store.db.sessions() as s:
            who = principal_for_token(s, token) if token else None
        if who is None or not terminal_id:
            await _close(socket, 4401, "session expired or not valid: log in again")
            return
        lock = asyncio.Lock()

        async def send_text(text: str) -> None:
            async with lock:
                await socket.send_text(text)

        async def close_socket(code: int, reason: str) -> None:
            await _close(socket, code, reason)

        connection = Terminal(terminal_id, who, send_text, incidents=wants_incidents, login=token_digest(token),
                              close_socket=close_socket)  # fmt: skip
        try:
            old = runtime.hub.add(connection)
        except TerminalTaken as error:
            log.warning("terminal %s refused to %s: %s", terminal_id, who.username, error)
            await _close(socket, 4409, f"terminal id {terminal_id} is in use by another user")
            return
        if old is not None:
            await runtime.hub.close(old, 4409, "this terminal connected again elsewhere")
        await connection.send({"type": "welcome", "terminal_id": terminal_id, "user": _me(who)})
        try:
            await runtime.dispatcher.connect(connection, have)
            while True:
                message = json.loads(await socket.receive_text())
                kind = message.get("type") if isinstance(message, dict) else None
                if kind == "received":
                    ids = message.get("alert_ids") or [message.get("alert_id", "")]
                    now = datetime.now(UTC)
                    for alert_id in ids if isinstance(ids, list) else []:
                        runtime.hub.receipt(connection, str(alert_id), now)
                elif kind == "ping":
                    await connection.send({"type": "pong", "at": datetime.now(UTC).isoformat()})
        except (WebSocketDisconnect, ValueError, RuntimeError):
            pass
        finally:
            runtime.hub.remove(connection)

    from yingyan.web import mount

    mount(app)
    return app


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    try:
        await socket.send_text(json.dumps({"type": "error", "detail": reason}))
        await socket.close(code=code, reason=reason)
    except (RuntimeError, WebSocketDisconnect):
        pass


def _me(who: Principal) -> dict[str, Any]:
    return {"username": who.username, "role": who.role.value, "districts": sorted(who.districts),
            "department": who.department, "supervisor": who.supervisor}  # fmt: skip


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """A camera's traffic-state window: as asked, else the two days up to tomorrow (a live run's clock)."""
    end = _aware(until, "until") or datetime.now(UTC) + timedelta(days=1)
    return _aware(since, "since") or _before(end, timedelta(days=2), "until"), end


class BadQuery(Exception):
    """A query parameter that parses but cannot be used (a date at the calendar's edge); 422."""


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise BadQuery(f"{name}: {value.isoformat()} is out of range") from None


def _before(end: datetime, span: timedelta, name: str) -> datetime:
    try:
        return end - span
    except OverflowError:
        raise BadQuery(f"{name}: {end.isoformat()} is too early for a window ending then") from None


__all__ = ["Action", "create_app"]
