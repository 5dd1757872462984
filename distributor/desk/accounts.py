"""People and machines allowed on the desk and the API: users with argon2 passwords, API tokens.

A token's secret is shown once, when it is created; the store keeps only its SHA-256 (a token is
256 random bits: a slow hash would add nothing but latency to every API call).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from distributor.desk.models import ApiToken, Role, User
from distributor.store import Store

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 10
LANGUAGES = ("en", "fr")
TOKEN_PREFIX = "dst_"  # noqa: S105  (a marker, not a secret)

_HASHER = PasswordHasher()
_TOKENS = ApiToken.__table__
# Built once: every API call runs it.
_TOKEN_BY_HASH = select(_TOKENS).where(_TOKENS.c.token_hash == bindparam("digest"))
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A refused account change; the message says what and why."""


def check_name(name: str, what: str = "user") -> str:
    if not NAME.match(name):
        raise AccountError(
            f"{what} name {name[:80]!r}: use 1 to 64 letters, digits, '.', '_', '-' or '@'"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters, please")
    return password


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created: ``secret`` exists nowhere else and is never shown again."""

    name: str
    secret: str


class Accounts:
    """Users and API tokens in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- users ------------------------------------------------------------------------------

    async def add_user(self, name: str, role: Role, password: str, language: str = "en") -> User:
        """Raises ``AccountError``: bad name, short password, unknown language, name taken."""
        check_name(name)
        check_password(password)
        if language not in LANGUAGES:
            raise AccountError(f"language {language!r}: choose one of {', '.join(LANGUAGES)}")
        now = self.store.clock()
        user = User(
            name=name,
            role=Role(role),
            password_hash=hash_password(password),
            language=language,
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.store.session() as session, session.begin():
                session.add(user)
        except IntegrityError:
            raise AccountError(f"user {name!r} already exists") from None
        return user

    async def users(self) -> list[User]:
        async with self.store.session() as session:
            return list(await session.scalars(select(User).order_by(User.name)))

    async def user(self, name: str) -> User | None:
        async with self.store.session() as session:
            return await session.scalar(select(User).where(User.name == name))

    async def user_by_id(self, user_id: int) -> User | None:
        async with self.store.session() as session:
            return await session.get(User, user_id)

    async def _update_user(self, name: str, **values: object) -> None:
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                update(User)
                .where(User.name == name)
                .values(updated_at=self.store.clock(), **values)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise AccountError(f"no user named {name!r}")

    async def disable(self, name: str) -> None:
        await self._update_user(name, disabled=True)

    async def set_password(self, name: str, password: str) -> None:
        await self._update_user(name, password_hash=hash_password(check_password(password)))

    async def set_language(self, name: str, language: str) -> None:
        if language not in LANGUAGES:
            raise AccountError(f"language {language!r}: choose one of {', '.join(LANGUAGES)}")
        await self._update_user(name, language=language)

    async def authenticate(self, name: str, password: str) -> User | None:
        """The enabled user with this name and password, else None (same cost either way)."""
        user = await self.user(name)
        if user is None:
            password_matches(_DUMMY_HASH, password)
            return None
        if not password_matches(user.password_hash, password) or user.disabled:
            return None
        return user

    # -- API tokens -------------------------------------------------------------------------

    async def create_token(self, name: str, role: Role = Role.EDITOR) -> NewToken:
        check_name(name, "token")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            name=name,
            token_hash=token_digest(secret),
            role=Role(role),
            revoked=False,
            created_at=self.store.clock(),
        )
        try:
            async with self.store.session() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise AccountError(f"token {name!r} already exists") from None
        return NewToken(name, secret)

    async def tokens(self) -> list[ApiToken]:
        async with self.store.session() as session:
            return list(await session.scalars(select(ApiToken).order_by(ApiToken.name)))

    async def revoke(self, name: str) -> None:
        async with self.store.session() as session, session.begin():
            result = await session.execute(
                update(ApiToken).where(ApiToken.name == name).values(revoked=True)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise AccountError(f"no token named {name!r}")

    async def token(self, secret: str) -> ApiToken | None:
        """The live token whose secret this is, else None."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        # Every API call asks: Core on an autocommit connection, one round trip (no BEGIN).
        async with self.store.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            row = (await conn.execute(_TOKEN_BY_HASH, {"digest": token_digest(secret)})).first()
        if row is None or row.revoked:
            return None
        return ApiToken(**row._mapping)
