"""Users, passwords and logins: Argon2 hashes, opaque session tokens, and a failed-login limit.

A token is 32 random bytes shown to the user once; the database keeps only its SHA-256, so a
copy of the database opens no session. Failed logins are counted per user name and client
address: past the limit, that pair (not the user everywhere) waits a growing delay (HTTP 429
with Retry-After). An unknown user name costs the same Argon2 work as a known one, so the
answer's time does not tell which names exist.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import threading
import time
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
    unknown = [d for d in districts if d != ALL_DISTRICTS and session.get(m.District, d) is None]
    if unknown:  # a typo would give the user a district nobody's incidents are in
        known = ", ".join(sorted(d.id for d in session.scalars(select(m.District)))) or "none yet: give --config"
        raise UserError(f"unknown district {unknown[0]!r} (known: {known})")
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
    """Failed logins per (user name, address), each answered with a growing delay; never a lock for everyone.

    ``begin`` counts an attempt as failed before the password is checked (so that thirty guesses sent
    at once are thirty attempts, not one) and ``succeeded`` takes it back. Past ``max_failures`` for
    one user from one address, the next attempt from there waits 1 s, then 2, 4, … up to ``max_delay_s``;
    the same user from another address is not held up. An address that fails ``address_factor`` times
    as often over any user names (password spraying) is delayed the same way, alone.

    >>> limiter = LoginLimiter(max_failures=2, window_s=300, max_delay_s=60)
    >>> [limiter.begin("disp", "10.0.0.9") for _ in range(3)]
    [0.0, 0.0, 1.0]
    >>> limiter.begin("disp", "10.0.0.1")  # the dispatcher at their own desk
    0.0
    """

    def __init__(self, max_failures: int, window_s: float, max_delay_s: float = 60.0, address_factor: int = 4) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_delay_s = max_delay_s
        self.address_factor = address_factor
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, monotonic time of the last)
        self._lock = threading.Lock()

    def _limit(self, key: str) -> int:
        return self.max_failures * (self.address_factor if key.startswith("addr:") else 1)

    def _wait(self, key: str, now: float) -> float:
        count, last = self._failures.get(key, (0, 0.0))
        if count < self._limit(key) or now - last > self.window_s:
            return 0.0
        delay = min(2.0 ** (count - self._limit(key)), self.max_delay_s)
        return max(delay - (now - last), 0.0)

    @staticmethod
    def keys(username: str, address: str) -> list[str]:
        return [f"pair:{username.lower()}@{address}", f"addr:{address}"]

    def begin(self, username: str, address: str) -> float:
        """Reserve an attempt (counted failed until ``succeeded``); or the seconds to wait before one."""
        now = time.monotonic()
        keys = self.keys(username, address)
        with self._lock:
            for stale in [k for k, (_, last) in self._failures.items() if now - last > self.window_s]:
                del self._failures[stale]  # bounded: keys without recent failures are forgotten
            wait = max(self._wait(key, now) for key in keys)
            if wait > 0:
                return round(wait, 1)
            for key in keys:
                count, _ = self._failures.get(key, (0, now))
                self._failures[key] = (count + 1, now)
            return 0.0

    def succeeded(self, username: str, address: str) -> None:
        """The password was right: the attempt was no failure, and this user's count from there starts over."""
        pair, addr = self.keys(username, address)
        with self._lock:
            self._failures.pop(pair, None)
            count, last = self._failures.get(addr, (0, 0.0))
            if count > 1:
                self._failures[addr] = (count - 1, last)
            else:
                self._failures.pop(addr, None)


@functools.cache
def _decoy_hash() -> str:
    """A hash to check passwords of unknown or disabled users against: the same work as for a real one."""
    return HASHER.hash(secrets.token_urlsafe(16))


def check_login(user: m.User | None, password: str) -> bool:
    """Whether ``password`` opens ``user``'s account; as slow for no user (or a disabled one) as for one."""
    usable = user is not None and not user.disabled
    stored = user.password_hash if usable and user is not None else _decoy_hash()
    return verify_password(stored, password) and usable


def open_session(session: Session, user: m.User, ttl_s: float) -> tuple[str, datetime]:
    """A new login for ``user``: the token (shown once) and when it expires."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=ttl_s)
    session.add(m.LoginSession(token_hash=token_digest(token), user_id=user.id, created_at=now, expires_at=expires))
    return token, expires


def principal_for_token(session: Session, token: str) -> Principal | None:
    """The user a token belongs to, if the session is open and the user enabled."""
    found = principal_for_digest(session, token_digest(token))
    return found[0] if found is not None else None


def principal_for_digest(session: Session, digest: str) -> tuple[Principal, datetime] | None:
    """The user behind a login (by its token's digest) and when it expires; ``None`` when it has ended
    (logged out, expired) or the user is disabled."""
    login = session.get(m.LoginSession, digest)
    if login is None or login.revoked or login.expires_at <= datetime.now(UTC):
        return None
    user = session.get(m.User, login.user_id)
    if user is None or user.disabled:
        return None
    return principal_of(user), login.expires_at


def revoke(session: Session, token: str) -> None:
    login = session.get(m.LoginSession, token_digest(token))
    if login is not None:
        login.revoked = True
