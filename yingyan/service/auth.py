"""Users, passwords and logins: Argon2 hashes, opaque session tokens, and a failed-login limit.

A token is 32 random bytes shown to the user once; the database keeps only its SHA-256, so a
copy of the database opens no session. Failed logins are counted per user name and per
client address over a sliding window; past the limit a login is refused (HTTP 429) until the
window has moved on, whether the password is right or not.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from yingyan.errors import YingyanError
from yingyan.service import models as m
from yingyan.service.access import ALL_DISTRICTS, Principal
from yingyan.service.workflow import Role

HASHER = PasswordHasher()  # argon2id, the library's defaults
MIN_PASSWORD = 8
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"


class UserError(YingyanError):
    """A user cannot be added or changed as asked; the message says why."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    return HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def principal_of(user: m.User) -> Principal:
    return Principal(
        user.id,
        user.username,
        Role(user.role),
        frozenset(str(d) for d in user.districts),
        user.department,
        user.supervisor,
    )


def add_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    districts: list[str],
    department: str | None = None,
    display_name: str = "",
    supervisor: bool = False,
) -> m.User:
    """A new user (the caller commits); names the problem when the user cannot be added."""
    if not re.match(USERNAME_PATTERN, username):
        raise UserError(f"user name {username!r}: letters, digits and _.@- only, at most 64")
    if session.scalar(select(m.User).where(m.User.username == username)) is not None:
        raise UserError(f"user {username!r} exists already")
    if role is Role.SYSTEM:
        raise UserError("the system role is the service's own")
    if role is Role.LIAISON and not department:
        raise UserError("a liaison needs a department (--department)")
    if department is not None and session.get(m.Department, department) is None:
        known = ", ".join(d.code for d in session.scalars(select(m.Department))) or "none configured"
        raise UserError(f"unknown department {department!r} (known: {known})")
    if not districts and role is not Role.ADMIN:
        raise UserError("a user needs at least one district (--district; * for all)")
    for district in districts:
        if district != ALL_DISTRICTS and session.get(m.District, district) is None:
            session.add(m.District(id=district, name=district))
    user = m.User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role.value,
        districts=sorted(set(districts)),
        department=department,
        supervisor=supervisor,
        disabled=False,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user


class LoginLimiter:
    """Failed logins per key (``user:<name>``, ``addr:<address>``) within a sliding window.

    An address may fail ``address_factor`` times as often as one user name: a command centre's
    desks often reach the service from one address.
    """

    def __init__(self, max_failures: int, window_s: float, address_factor: int = 4) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.address_factor = address_factor
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _limit(self, key: str) -> int:
        return self.max_failures * (self.address_factor if key.startswith("addr:") else 1)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def retry_after(self, keys: list[str]) -> float:
        """Seconds until a login for these keys may be tried again (0: now)."""
        now = time.monotonic()
        with self._lock:
            waits = []
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self._limit(key):
                    waits.append(self.window_s - (now - times[0]))
            for key in [k for k, v in self._failures.items() if not v]:
                del self._failures[key]  # bounded: keys without recent failures are forgotten
            return max(waits, default=0.0)

    def failed(self, keys: list[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def open_session(session: Session, user: m.User, ttl_s: float) -> tuple[str, datetime]:
    """A new login for ``user``: the token (shown once) and when it expires."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=ttl_s)
    session.add(m.LoginSession(token_hash=token_digest(token), user_id=user.id, created_at=now, expires_at=expires))
    return token, expires


def principal_for_token(session: Session, token: str) -> Principal | None:
    """The user a token belongs to, if the session is open and the user enabled."""
    login = session.get(m.LoginSession, token_digest(token))
    if login is None or login.revoked or login.expires_at <= datetime.now(UTC):
        return None
    user = session.get(m.User, login.user_id)
    if user is None or user.disabled:
        return None
    return principal_of(user)


def revoke(session: Session, token: str) -> None:
    login = session.get(m.LoginSession, token_digest(token))
    if login is not None:
        login.revoked = True
