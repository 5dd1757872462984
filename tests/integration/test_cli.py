"""The command line as an editor and an admin use it: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from distributor.resources import samples_dir
from tests.helpers import outbox_config

ROOT = Path(__file__).resolve().parents[2]


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("DISTRIBUTOR_CONFIG", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "distributor", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "news.yaml"
    data = outbox_config(f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}", tmp_path)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_zero_config_demo_writes_one_file_per_channel_and_story(tmp_path: Path) -> None:
    result = cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    stories = len(list(samples_dir().iterdir()))
    for channel in ("telegram", "discord", "email"):
        assert len(list((tmp_path / "outbox" / channel).glob("*-send.*"))) == stories
    assert (tmp_path / "distributor.sqlite3").exists()
    again = cli("demo", cwd=tmp_path)
    assert again.returncode == 0 and "already queued" in again.stdout
    assert "posted 0 deliveries" in again.stdout


def test_queue_reports_each_file_and_keeps_going(tmp_path: Path, config_file: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01binary")
    sample = samples_dir() / "pont-saone.fr.txt"
    result = cli("queue", "-c", str(config_file), str(bad), str(sample), cwd=tmp_path)
    assert result.returncode == 1
    assert "queued #1" in result.stdout
    assert f"{bad}: binary file" in result.stderr
    assert "Traceback" not in result.stderr
    again = cli("queue", "-c", str(config_file), str(sample), cwd=tmp_path)
    assert again.returncode == 0 and "already queued as #1" in again.stdout


def test_status_json_and_table(tmp_path: Path, config_file: Path) -> None:
    sample = samples_dir() / "library-hours.en.json"
    env = {"DISTRIBUTOR_CONFIG": str(config_file)}
    assert cli("queue", str(sample), cwd=tmp_path, env=env).returncode == 0
    assert cli("run", "--once", cwd=tmp_path, env=env).returncode == 0
    status = cli("status", "--json", cwd=tmp_path, env=env)
    data = json.loads(status.stdout)
    [article] = data["articles"]
    assert {name: d["status"] for name, d in article["deliveries"].items()} == {
        "telegram": "sent",
        "discord": "sent",
        "email": "sent",
    }
    table = cli("status", cwd=tmp_path, env=env)
    assert table.returncode == 0
    assert "City libraries to open on Sundays" in table.stdout and "✓ sent" in table.stdout


def test_check_config_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nchannels:\n"
        "  - {name: t, platform: telegram, chat: '@abcd', token: '${NOPE}'}\n"
    )
    result = cli("check-config", "-c", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{bad}:3: channels[0].token: environment variable NOPE is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_never_prints_secrets(tmp_path: Path) -> None:
    token = "123456:SECRETSECRETSECRETSECRETSECRET"
    good = tmp_path / "good.yaml"
    good.write_text(
        "version: 1\nchannels:\n  - {name: t, platform: telegram, chat: '@abcd', token: '${TG}'}\n"
    )
    result = cli("check-config", "-c", str(good), "-vv", cwd=tmp_path, env={"TG": token})
    assert result.returncode == 0, result.stderr
    assert "SECRETSECRET" not in result.stdout + result.stderr
    assert "t: telegram → @abcd" in result.stdout


def test_unreachable_store_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "pg.yaml"
    config.write_text(
        "version: 1\nstore: {url: 'postgresql+asyncpg://nobody:pw@127.0.0.1:1/none'}\n"
    )
    result = cli("status", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "cannot open the store at postgresql+asyncpg://nobody:***@127.0.0.1:1/none" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_run_stops_cleanly_on_sigterm(tmp_path: Path, config_file: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISTRIBUTOR_CONFIG": str(config_file)}
    process = subprocess.Popen(
        [sys.executable, "-m", "distributor", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        sample = samples_dir() / "pont-saone.fr.txt"
        queued = cli(
            "queue", str(sample), cwd=tmp_path, env={"DISTRIBUTOR_CONFIG": str(config_file)}
        )
        assert queued.returncode == 0
        outbox = tmp_path / "outbox"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(list(outbox.glob("*/*-send.*"))) < 3:
            time.sleep(0.1)
        if len(list(outbox.glob("*/*-send.*"))) != 3:  # woken by the queue, no poll wait
            process.kill()
            pytest.fail(f"the worker did not post: {process.communicate()[1]}")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "done: 3 posted" in out


def test_channel_list_and_resume(tmp_path: Path, config_file: Path) -> None:
    env = {"DISTRIBUTOR_CONFIG": str(config_file)}
    listed = cli("channel", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == [
        "telegram",
        "discord",
        "email",
    ]
    assert all(line.endswith("dry run") for line in listed.stdout.splitlines())
    resumed = cli("channel", "resume", "telegram", cwd=tmp_path, env=env)
    assert resumed.returncode == 0 and "was not paused" in resumed.stdout
    unknown = cli("channel", "resume", "pigeon", cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "no channel named 'pigeon'" in unknown.stderr


def test_config_and_verbose_go_before_or_after_the_command(
    tmp_path: Path, config_file: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nnope: 1\n")
    assert cli("-c", str(config_file), "check-config", cwd=tmp_path).returncode == 0
    assert cli("check-config", "-vv", "-c", str(config_file), cwd=tmp_path).returncode == 0
    after = cli("-c", str(config_file), "check-config", "-c", str(bad), cwd=tmp_path)
    assert after.returncode == 2 and "nope: unknown key" in after.stderr  # the nearest wins
    listed = cli("channel", "-c", str(config_file), "list", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.startswith("telegram\t")


def test_demo_never_touches_the_configured_store_or_live_channels(tmp_path: Path) -> None:
    store = tmp_path / "newsroom.sqlite3"
    data = outbox_config(f"sqlite+aiosqlite:///{store}", tmp_path)
    data["redis"] = {"url": "redis://127.0.0.1:1/0"}  # unreachable: the demo must not use it
    live = {"dry_run": False, "token": "123456:SECRETSECRETSECRETSECRET"}
    data["channels"][0].update(live, api_base_url="http://127.0.0.1:1")
    config = tmp_path / "news.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    workdir = tmp_path / "here"
    workdir.mkdir()
    result = cli("demo", cwd=workdir, env={"DISTRIBUTOR_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert "throwaway store (distributor-demo/demo.sqlite3)" in result.stdout
    assert "every channel in dry-run mode" in result.stdout and "0 failed" in result.stdout
    assert not store.exists()
    assert not (tmp_path / "outbox").exists()
    stories = len(list(samples_dir().iterdir()))
    for channel in ("telegram", "discord", "email"):
        sent = list((workdir / "distributor-demo" / "outbox" / channel).glob("*-send.*"))
        assert len(sent) == stories


def test_a_bad_entry_of_a_json_list_is_refused_alone(tmp_path: Path, config_file: Path) -> None:
    export = tmp_path / "export.json"
    good = {"title": "Good", "body": "A body."}
    export.write_text(json.dumps([good, {**good, "title": "Also good"}, {"body": "No title"}]))
    result = cli("queue", "-c", str(config_file), str(export), cwd=tmp_path)
    assert result.returncode == 1
    assert "queued #1: Good" in result.stdout and "queued #2: Also good" in result.stdout
    assert f"refused: {export}[2]: the story has no title" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path, config_file: Path) -> None:
    env = {"DISTRIBUTOR_CONFIG": str(config_file)}
    assert (
        cli("queue", str(samples_dir() / "pont-saone.fr.txt"), cwd=tmp_path, env=env).returncode
        == 0
    )
    limit = cli("status", "--limit", "0", cwd=tmp_path, env=env)
    assert limit.returncode == 2 and "--limit" in limit.stderr
    assert "No stories yet" not in limit.stdout
    retry = cli("retry", "--channel", "nope", cwd=tmp_path, env=env)
    assert retry.returncode == 2 and "no channel named 'nope'" in retry.stderr
    assert cli("retry", "--channel", "telegram", cwd=tmp_path, env=env).returncode == 0


def test_store_errors_show_no_sqlalchemy_link(tmp_path: Path, config_file: Path) -> None:
    env = {"DISTRIBUTOR_CONFIG": str(config_file)}
    assert cli("status", cwd=tmp_path, env=env).returncode == 0  # creates the store
    with sqlite3.connect(tmp_path / "news.sqlite3") as db:
        db.execute("DROP TABLE channel_state")
    broken = cli("status", cwd=tmp_path, env=env)
    assert broken.returncode == 1
    assert "no such table: channel_state" in broken.stderr
    junk = tmp_path / "junk.yaml"
    (tmp_path / "junk.sqlite3").write_bytes(b"not a database " * 500)
    junk.write_text(
        f"version: 1\nstore: {{url: 'sqlite+aiosqlite:///{tmp_path / 'junk.sqlite3'}'}}\n"
    )
    unreadable = cli("status", "-c", str(junk), cwd=tmp_path)
    assert unreadable.returncode == 1 and "file is not a database" in unreadable.stderr
    for result in (broken, unreadable):
        assert (
            "sqlalche.me" not in result.stderr and "Background on this error" not in result.stderr
        )
        assert "Traceback" not in result.stderr


def test_check_config_warns_about_no_channels(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("version: 1\n")
    result = cli("check-config", "-c", str(empty), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0 channel(s)" in result.stdout
    assert "warning: no channels configured" in result.stderr


def test_preview_shows_each_channel_and_queues_nothing(tmp_path: Path, config_file: Path) -> None:
    story = tmp_path / "passerelle.fr.txt"
    story.write_text(
        "La passerelle rouvre\n\nLa passerelle rouvre ce matin après deux ans de travaux. "
        "Les piétons l'attendaient.\n\nTu as aimé cet article ? Rejoins-nous sur nos canaux !\n",
        encoding="utf-8",
    )
    data = yaml.safe_load(config_file.read_text())
    data["channels"][0]["filters"] = {"languages": ["en"]}
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = cli("preview", str(story), "-c", str(config_file), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "telegram (telegram): nothing posted: filters.languages: takes en, not fr" in (
        result.stdout
    )
    assert "discord (discord)" in result.stdout and "email (email)" in result.stdout
    assert result.stdout.count("La passerelle rouvre ce matin") == 2
    assert "Tu as aimé" not in result.stdout  # the story's promo is replaced by the links
    status = cli("status", "--json", "-c", str(config_file), cwd=tmp_path)
    assert json.loads(status.stdout)["articles"] == []  # nothing was queued
    unknown = cli("preview", str(story), "--channel", "nope", "-c", str(config_file), cwd=tmp_path)
    assert unknown.returncode == 2


def test_queueing_again_with_options_updates_the_story(tmp_path: Path, config_file: Path) -> None:
    sample = samples_dir() / "pont-saone.fr.txt"
    assert cli("queue", "-c", str(config_file), str(sample), cwd=tmp_path).returncode == 0
    again = cli(
        "queue", "-c", str(config_file), "--language", "de", "--priority", "7", str(sample),
        cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"updated #1 ({sample}): language: fr → de; priority: 0 → 7" in again.stdout
    shown = json.loads(cli("status", "-c", str(config_file), "--json", cwd=tmp_path).stdout)
    [article] = shown["articles"]
    assert article["language"] == "de" and article["priority"] == 7
