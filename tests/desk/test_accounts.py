"""Accounts, tokens and the audit log, on a real store; the commands in real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from distributor.desk import audit
from distributor.desk.accounts import AccountError, Accounts
from distributor.desk.models import AuditEntry, Role
from distributor.store import Store
from tests.integration.test_cli import ROOT, cli, config_file  # noqa: F401  (fixture)


def prompted(*args: str, cwd: Path, answers: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "distributor", *args],
        cwd=cwd,
        env=env,
        input=answers,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_passwords_are_hashed_and_checked(store: Store) -> None:
    accounts = Accounts(store)
    user = await accounts.add_user("ana", Role.EDITOR, "correct horse battery")
    assert user.password_hash.startswith("$argon2")
    assert "correct horse" not in user.password_hash
    assert (await accounts.authenticate("ana", "correct horse battery")) is not None
    assert await accounts.authenticate("ana", "wrong password!") is None
    assert await accounts.authenticate("nobody", "correct horse battery") is None
    await accounts.disable("ana")
    assert await accounts.authenticate("ana", "correct horse battery") is None


async def test_refusals_name_what_is_wrong(store: Store) -> None:
    accounts = Accounts(store)
    with pytest.raises(AccountError, match="at least 10 characters"):
        await accounts.add_user("ana", Role.EDITOR, "short")
    with pytest.raises(AccountError, match="user name"):
        await accounts.add_user("a b", Role.EDITOR, "long enough password")
    await accounts.add_user("ana", Role.ADMIN, "long enough password")
    with pytest.raises(AccountError, match="already exists"):
        await accounts.add_user("ana", Role.EDITOR, "long enough password")
    with pytest.raises(AccountError, match="no user named"):
        await accounts.disable("bob")


async def test_tokens_are_stored_hashed_and_can_be_revoked(store: Store) -> None:
    accounts = Accounts(store)
    created = await accounts.create_token("cms")
    stored = (await accounts.tokens())[0]
    assert created.secret not in stored.token_hash
    assert (await accounts.token(created.secret)) is not None
    assert await accounts.token(created.secret + "x") is None
    assert await accounts.token("not-a-token") is None
    await accounts.revoke("cms")
    assert await accounts.token(created.secret) is None


async def test_the_audit_log_is_append_only_in_the_database(store: Store) -> None:
    await audit.record(store, "user:ana", "queue", article_id=7, detail="=HYPERLINK(1)")
    rows = await audit.entries(store)
    assert [(r.actor, r.action, r.article_id) for r in rows] == [("user:ana", "queue", 7)]
    for statement in (update(AuditEntry).values(actor="someone else"), delete(AuditEntry)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.session() as session, session.begin():
                await session.execute(statement)
    assert "'=HYPERLINK(1)" in audit.to_csv(rows)


def test_users_and_tokens_commands(tmp_path: Path, config_file: Path) -> None:  # noqa: F811
    c = ("-c", str(config_file))
    added = cli("users", "add", "ana", "--role", "admin", "--generate", *c, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    password = added.stdout.split("password (shown once): ")[1].strip()
    assert len(password) >= 10
    bob = prompted("users", "add", "bob", *c, cwd=tmp_path, answers="a fine password\n" * 2)
    assert bob.returncode == 0, bob.stderr
    again = cli("users", "add", "bob", "--generate", *c, cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
    listed = cli("users", "list", *c, cwd=tmp_path)
    assert listed.stdout.splitlines() == ["ana\tadmin\ten\tenabled", "bob\teditor\ten\tenabled"]
    assert cli("users", "disable", "bob", *c, cwd=tmp_path).returncode == 0
    assert "bob\teditor\ten\tdisabled" in cli("users", "list", *c, cwd=tmp_path).stdout

    token = cli("tokens", "create", "cms", *c, cwd=tmp_path)
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip().splitlines()[-1]
    assert secret.startswith("dst_")
    listed = cli("tokens", "list", *c, cwd=tmp_path).stdout
    assert "cms" in listed and "live" in listed and secret not in listed
    assert cli("tokens", "revoke", "cms", *c, cwd=tmp_path).returncode == 0
    assert "revoked" in cli("tokens", "list", *c, cwd=tmp_path).stdout
    assert cli("tokens", "revoke", "nope", *c, cwd=tmp_path).returncode == 1
