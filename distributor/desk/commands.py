"""``distributor users`` and ``distributor tokens``: who may use the desk and the API.

Importing this module loads click only; each command imports what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from distributor import clikit
from distributor.clikit import CliState, echo, fail, pass_state

if TYPE_CHECKING:
    from distributor.store import Store


@click.group(cls=clikit.Group)
def users() -> None:
    """Desk accounts: add, list, disable, change a password."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["editor", "admin"]), default="editor", show_default=True)
@click.option("--language", type=click.Choice(["en", "fr"]), default="en", show_default=True)
@click.option("--generate", is_flag=True, help="Generate a password and show it once.")
@pass_state
def users_add(state: CliState, name: str, role: str, language: str, generate: bool) -> None:
    """Create user NAME (the password is prompted, or generated with --generate)."""
    from distributor.desk import accounts, audit
    from distributor.desk.models import Role

    try:
        accounts.check_name(name)
    except accounts.AccountError as exc:
        fail(str(exc), 2)
    password = (
        accounts.generate_password()
        if generate
        else click.prompt("Password", hide_input=True, confirmation_prompt=True)
    )

    async def go(store: Store) -> None:
        try:
            await accounts.Accounts(store).add_user(name, Role(role), password, language)
        except accounts.AccountError as exc:
            fail(str(exc))
        await audit.record(store, "cli", "user.add", detail=f"{name} ({role})")

    state.with_store(go)
    echo(f"user {name} added ({role})")
    if generate:
        echo(f"password (shown once): {password}")


@users.command("list")
@pass_state
def users_list(state: CliState) -> None:
    """Every user: name, role, language, enabled or disabled."""
    from distributor.desk import accounts

    rows = state.with_store(lambda store: accounts.Accounts(store).users())
    for user in rows:
        shown = "disabled" if user.disabled else "enabled"
        click.echo(f"{user.name}\t{user.role}\t{user.language}\t{shown}")
    if not rows:
        echo("no users yet: distributor users add NAME --role admin", error=True)


@users.command("disable")
@click.argument("name")
@pass_state
def users_disable(state: CliState, name: str) -> None:
    """Disable user NAME: their sessions end, they can no longer log in."""
    from distributor.desk import accounts, audit

    async def go(store: Store) -> None:
        try:
            await accounts.Accounts(store).disable(name)
        except accounts.AccountError as exc:
            fail(str(exc))
        await audit.record(store, "cli", "user.disable", detail=name)

    state.with_store(go)
    echo(f"user {name} disabled")


@users.command("password")
@click.argument("name")
@click.option("--generate", is_flag=True, help="Generate a password and show it once.")
@pass_state
def users_password(state: CliState, name: str, generate: bool) -> None:
    """Set a new password for NAME (prompted, or generated with --generate)."""
    from distributor.desk import accounts, audit

    password = (
        accounts.generate_password()
        if generate
        else click.prompt("New password", hide_input=True, confirmation_prompt=True)
    )

    async def go(store: Store) -> None:
        try:
            await accounts.Accounts(store).set_password(name, password)
        except accounts.AccountError as exc:
            fail(str(exc))
        await audit.record(store, "cli", "user.password", detail=name)

    state.with_store(go)
    echo(f"password of {name} changed")
    if generate:
        echo(f"password (shown once): {password}")


@click.group(cls=clikit.Group)
def tokens() -> None:
    """API tokens for machines (a CMS): create, list, revoke."""


@tokens.command("create")
@click.argument("name")
@pass_state
def tokens_create(state: CliState, name: str) -> None:
    """Create token NAME and show its secret once (only a hash is stored)."""
    from distributor.desk import accounts, audit

    async def go(store: Store) -> accounts.NewToken:
        try:
            created = await accounts.Accounts(store).create_token(name)
        except accounts.AccountError as exc:
            fail(str(exc))
        await audit.record(store, "cli", "token.create", detail=name)
        return created

    created = state.with_store(go)
    echo(f"token {name} created; it is shown once, keep it now:")
    click.echo(created.secret)


@tokens.command("list")
@pass_state
def tokens_list(state: CliState) -> None:
    """Every token: name, created, last used, live or revoked (never the secret)."""
    from distributor.desk import accounts

    rows = state.with_store(lambda store: accounts.Accounts(store).tokens())
    for token in rows:
        used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
        shown = "revoked" if token.revoked else "live"
        created = token.created_at.isoformat(timespec="seconds")
        click.echo(f"{token.name}\t{created}\t{used}\t{shown}")
    if not rows:
        echo("no tokens yet: distributor tokens create NAME", error=True)


@tokens.command("revoke")
@click.argument("name")
@pass_state
def tokens_revoke(state: CliState, name: str) -> None:
    """Revoke token NAME: calls with it are refused from now on."""
    from distributor.desk import accounts, audit

    async def go(store: Store) -> None:
        try:
            await accounts.Accounts(store).revoke(name)
        except accounts.AccountError as exc:
            fail(str(exc))
        await audit.record(store, "cli", "token.revoke", detail=name)

    state.with_store(go)
    echo(f"token {name} revoked")
