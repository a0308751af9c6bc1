"""What every request passes before a route sees it: its origin, its address, and the headers of its answer.

- **Origin.** A change (POST, PUT, PATCH, DELETE) or a terminal socket from a browser page must come
  from the service's own origin or one in ``allowed_origins``: a page elsewhere cannot act with an
  officer's cookie. A browser always says where a request comes from (``Origin``, or
  ``Sec-Fetch-Site``); a request that says neither (a command-line client with a bearer token) is
  not a browser's and passes.
- **Text the database cannot hold.** A NUL character or half of a UTF-16 surrogate pair in the path
  or the query is refused (422) before any lookup (PostgreSQL refuses NUL in text; neither can be
  encoded in UTF-8). Request bodies are checked by their models (``schemas.Text``).
- **Answer headers.** Every page and file is sent with a content security policy (scripts and
  styles from the service itself, no framing), ``nosniff``, no referrer, and ``X-Frame-Options``.

The body size limit is FastAPI's own (``max_body_size``: 413 before the body is read).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        b"media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL, a lone surrogate), or ``None``."""
    if "\x00" in text:
        return "contains a NUL character"
    if any("\ud800" <= c <= "\udfff" for c in text):
        return "contains an unpaired UTF-16 surrogate"
    return None


class RequestGuard:
    """ASGI middleware: origin checks, path and query text checks, security headers on every answer."""

    def __init__(self, app: ASGIApp, allowed_origins: list[str]) -> None:
        self.app = app
        self.allowed = {o.rstrip("/").lower() for o in allowed_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        websocket = scope["type"] == "websocket"
        problem = self._text_problem(scope)
        status = 422
        if problem is None and (websocket or scope.get("method", "GET") in CHANGES):
            problem, status = self._origin_problem(scope), 403
        if problem is not None:
            if websocket:  # refused before the handshake completes: the client sees HTTP 403
                await send({"type": "websocket.close", "code": 4403, "reason": problem[:120]})
            else:
                await _json(send, status, problem)
            return
        if websocket:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _text_problem(scope: Scope) -> str | None:
        why = unstorable(str(scope.get("path", "")))
        if why is not None:
            return f"path {why}"
        raw: bytes = scope.get("query_string", b"")
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            return "query: not valid UTF-8"
        for name, value in pairs:
            why = unstorable(name) or unstorable(value)
            if why is not None:
                return f"query parameter {name[:40]!r} {why}"
        return None

    def _origin_problem(self, scope: Scope) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        origin = headers.get("origin")
        if origin is None:
            if headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none"):
                return None
            return "request from another site refused"
        scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
        own = f"{scheme}://{headers.get('host', '')}".lower()
        if origin.rstrip("/").lower() in self.allowed | {own}:
            return None
        return f"origin {origin[:80]} is not allowed"


async def _json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *SECURITY_HEADERS]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
