"""``distributor subscribers …`` and ``distributor web`` as an admin uses them."""

from __future__ import annotations

import ast
import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from distributor.cli import main
from distributor.config import StoreConfig
from distributor.store import Store
from distributor_channels.email.models import Subscriber, SubscriberStatus
from distributor_channels.email.subscribers import Subscribers
from tests.email.world import email_config
from tests.fakes.smtp import FakeSMTP, free_port
from tests.helpers import write_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path, store_url: str, smtp_server: FakeSMTP) -> Path:
    return write_config(tmp_path, email_config(store_url, tmp_path, smtp_server)).path


def run(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["subscribers", *args, "-c", str(config)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def readers(store_url: str) -> dict[str, Subscriber]:
    async def go() -> list[Subscriber]:
        store = await Store.open(StoreConfig(url=store_url))
        try:
            return await Subscribers(store).listing("daily")
        finally:
            await store.close()

    return {r.address: r for r in asyncio.run(go())}


def test_add_starts_double_opt_in(config: Path, store_url: str, smtp_server: FakeSMTP) -> None:
    result = run(config, "add", "a@example.org", "B@Example.ORG", "--topics", "politics|sport")
    assert result.exit_code == 0, result.output
    assert "confirmation email queued" in result.output
    assert smtp_server.messages == []  # queued, not sent by the admin's command
    ran = CliRunner().invoke(main, ["run", "--once", "-c", str(config)])
    assert ran.exit_code == 0, ran.output
    found = readers(store_url)
    assert {a: r.status for a, r in found.items()} == {
        "a@example.org": SubscriberStatus.PENDING,
        "b@example.org": SubscriberStatus.PENDING,
    }
    assert found["b@example.org"].topics == "|politics|sport|"
    assert sorted(smtp_server.per_recipient()) == ["a@example.org", "b@example.org"]
    assert "/confirm/daily." in smtp_server.messages[0].data.decode()


def test_add_confirmed_sends_nothing(config: Path, store_url: str, smtp_server: FakeSMTP) -> None:
    result = run(config, "add", "a@example.org", "--confirmed")
    assert result.exit_code == 0, result.output
    assert readers(store_url)["a@example.org"].status == SubscriberStatus.CONFIRMED
    assert smtp_server.messages == []


def test_add_refuses_bad_addresses(config: Path, store_url: str, smtp_server: FakeSMTP) -> None:
    result = run(config, "add", "ok@example.org", "evil@example.org\r\nBcc: x@example.org")
    assert result.exit_code == 1
    assert "refused" in result.output
    assert list(readers(store_url)) == ["ok@example.org"]


def test_import_a_migrated_list(
    config: Path, tmp_path: Path, store_url: str, smtp_server: FakeSMTP
) -> None:
    run(config, "add", "left@example.org", "--confirmed")
    run(config, "remove", "left@example.org")
    data = tmp_path / "old-list.csv"
    data.write_text(
        "\ufeffEmail;Topics;Status\n"
        "one@example.org;politics sport;subscribed\n"
        "two@example.org;;\n"
        "gone@example.org;;unsubscribed\n"
        "dead@example.org;;cleaned\n"
        "left@example.org;;subscribed\n"
        "ONE@example.org;culture;subscribed\n"
        "broken-address;;\n",
        encoding="utf-8",
    )
    result = run(config, "import", str(data), "--confirmed")
    assert result.exit_code == 1  # one refused row; the others are in
    assert "old-list.csv:8" in result.output and "1 duplicate" in result.output
    found = {a: r.status for a, r in readers(store_url).items()}
    assert found == {
        "one@example.org": SubscriberStatus.CONFIRMED,
        "two@example.org": SubscriberStatus.CONFIRMED,
        "gone@example.org": SubscriberStatus.UNSUBSCRIBED,
        "dead@example.org": SubscriberStatus.BOUNCED,
        "left@example.org": SubscriberStatus.UNSUBSCRIBED,  # an import never re-subscribes
    }
    assert readers(store_url)["one@example.org"].topics == "|politics|sport|"
    assert smtp_server.messages == []


def test_import_without_confirmed_asks_everyone(
    config: Path, tmp_path: Path, store_url: str, smtp_server: FakeSMTP
) -> None:
    data = tmp_path / "list.csv"
    data.write_text("email,status\na@example.org,confirmed\nb@example.org,\n", encoding="utf-8")
    assert run(config, "import", str(data)).exit_code == 0
    assert {r.status for r in readers(store_url).values()} == {SubscriberStatus.PENDING}
    assert CliRunner().invoke(main, ["run", "--once", "-c", str(config)]).exit_code == 0
    assert sorted(smtp_server.per_recipient()) == ["a@example.org", "b@example.org"]


def test_list_remove_forget_and_export(config: Path, tmp_path: Path, store_url: str) -> None:
    run(config, "add", "a@example.org", "b@example.org", "c@example.org", "--confirmed")
    run(config, "add", "b@example.org", "--topics", "local news|sport", "--confirmed")
    listed = json.loads(run(config, "list", "--json").output)
    assert [r["email"] for r in listed] == ["a@example.org", "b@example.org", "c@example.org"]
    assert listed[1]["topics"] == ["local news", "sport"]

    assert run(config, "remove", "a@example.org").exit_code == 0
    assert run(config, "remove", "c@example.org", "--forget").exit_code == 0
    assert run(config, "remove", "nobody@example.org").exit_code == 1
    found = readers(store_url)
    assert found["a@example.org"].status == SubscriberStatus.UNSUBSCRIBED
    assert "c@example.org" not in found

    exported = run(config, "export").output
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["email"], r["status"], r["topics"]) for r in rows] == [
        ("a@example.org", "unsubscribed", ""),
        ("b@example.org", "confirmed", "local news|sport"),
    ]
    confirmed_only = run(config, "export", "--status", "confirmed", "-o", str(tmp_path / "x.csv"))
    assert confirmed_only.exit_code == 0
    assert (tmp_path / "x.csv").read_text().count("@") == 1


def test_an_unknown_list_is_a_usage_error(config: Path) -> None:
    result = run(config, "list", "--list", "weekly")
    assert result.exit_code == 2 and "weekly" in result.output


def test_config_goes_before_the_group_or_after_it(config: Path) -> None:
    assert run(config, "add", "a@example.org", "--confirmed").exit_code == 0
    for args in (
        ["-c", str(config), "subscribers", "list", "--json"],
        ["subscribers", "-c", str(config), "list", "--json"],
        ["subscribers", "list", "--json", "-c", str(config)],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
        assert [r["email"] for r in json.loads(result.stdout)] == ["a@example.org"]


def test_the_commands_import_the_core_cli_at_module_level_only() -> None:
    # Importing the core at call time meant an import cycle; the core never imports a platform.
    tree = ast.parse((REPO / "channels" / "email" / "cli.py").read_text(encoding="utf-8"))
    late = [
        f"line {node.lineno}"
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("distributor")
        and (node.module == "distributor.cli" or any(a.name == "cli" for a in node.names))
    ]
    assert late == []


def test_web_serves_the_subscribe_flow(
    tmp_path: Path, store_url: str, smtp_server: FakeSMTP
) -> None:
    port = free_port()
    data = email_config(store_url, tmp_path, smtp_server)
    data["web"].update(host="127.0.0.1", port=port)
    config = write_config(tmp_path, data).path
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, "-m", "distributor", "web", "-c", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        answer = httpx.post(f"{base}/subscribe/daily", data={"email": "web@example.org"})
        assert answer.status_code == 200
        assert smtp_server.messages == []  # queued: the workers mail it
        ran = CliRunner().invoke(main, ["run", "--once", "-c", str(config)])
        assert ran.exit_code == 0, ran.output
        assert smtp_server.per_recipient() == {"web@example.org": 1}
        assert "server" not in answer.headers
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=10)
    assert b"/confirm/" not in err  # no access log: URLs carry tokens
