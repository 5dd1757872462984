"""Desk sessions: a signed cookie (HttpOnly, SameSite=Lax, Secure on https) with an idle expiry,
and the CSRF token every changing form must send back.

The cookie holds the user's id, a CSRF token, when it was last used and a fingerprint of the
password hash (a password change ends every other session). It is signed with a key derived
from ``web.secret`` for this purpose only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from distributor.clock import Clock

COOKIE = "desk_session"


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    user_id: int | None = None
    password: str = ""  # fingerprint of the password hash at login
    seen: float = 0.0

    @property
    def anonymous(self) -> bool:
        return self.user_id is None

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf, sent or "")


class Sessions:
    def __init__(self, secret: str, idle: timedelta, clock: Clock, secure: bool) -> None:
        key = hmac.new(secret.encode(), b"distributor desk session", hashlib.sha256).hexdigest()
        self.serializer = URLSafeSerializer(key, salt="desk-session")
        self.idle = idle
        self.clock = clock
        self.secure = secure

    def fresh(self) -> Session:
        return Session(csrf=secrets.token_urlsafe(24))

    def login(self, user_id: int, password_hash: str) -> Session:
        # A new CSRF token at login: one planted before it is worth nothing after.
        return Session(
            csrf=secrets.token_urlsafe(24),
            user_id=user_id,
            password=fingerprint(password_hash),
            seen=self.now(),
        )

    def now(self) -> float:
        return self.clock().timestamp()

    def read(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``; None if absent, forged, or idle for too long."""
        if not cookie or len(cookie) > 4096:
            return None
        try:
            data = self.serializer.loads(cookie)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user = data.get("u")
        session = Session(
            csrf=data["c"],
            user_id=user if isinstance(user, int) else None,
            password=str(data.get("p", "")),
            seen=float(data.get("t", 0.0)),
        )
        if not session.anonymous and self.now() - session.seen > self.idle.total_seconds():
            return None
        return session

    def dump(self, session: Session) -> str:
        touched = session.seen if session.anonymous else self.now()
        return str(
            self.serializer.dumps(
                {"c": session.csrf, "u": session.user_id, "p": session.password, "t": touched}
            )
        )

    def cookie_options(self, path: str) -> dict[str, object]:
        return {"httponly": True, "samesite": "lax", "secure": self.secure, "path": path}
