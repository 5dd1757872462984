"""A real IMAP server for the tests: Dovecot with a private configuration in a temporary folder.

It listens on 127.0.0.1 on a free port, with one user and a Maildir of its own, and runs in the
foreground as a child process (``dovecot -F -c``) that the fixture stops. Dovecot refuses to run
its processes as root, so when the tests run as root (CI) they run as ``nobody``.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.tls import self_signed

DOVECOT_PATHS = ("/usr/sbin/dovecot",)


def dovecot_path() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return next((p for p in DOVECOT_PATHS if os.access(p, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def _ssl_settings(root: Path) -> str:
    """A certificate for 127.0.0.1 that no system trusts, and Dovecot's ssl settings for it."""
    cert, key = self_signed(root, "dovecot test IMAP")
    return f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"


@dataclass
class Dovecot:
    port: int
    user: str
    password: str
    root: Path
    tls_port: int = 0  # IMAPS (TLS from the first byte), when started with ``tls=True``

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @classmethod
    @contextmanager
    def start(cls, *, tls: bool = False) -> Iterator[Dovecot]:
        """``tls``: a self-signed certificate, STARTTLS on ``port`` and IMAPS on ``tls_port``."""
        binary = dovecot_path()
        if binary is None:
            raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
        if os.geteuid() == 0:
            account = pwd.getpwnam("nobody")
            user, uid, gid = account.pw_name, account.pw_uid, account.pw_gid
        else:
            uid, gid = os.getuid(), os.getgid()
            user = pwd.getpwuid(uid).pw_name
        group = grp.getgrgid(gid).gr_name
        root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        root.chmod(0o755)  # the login processes run as `user`
        port = _free_port()
        password = "bounce-box-password-5b1e"
        (root / "users").write_text(f"bounces:{{PLAIN}}{password}\n", encoding="utf-8")
        for name in ("mail", "home", "state", "run"):
            (root / name).mkdir()
        for name in ("mail", "home"):
            os.chown(root / name, uid, gid) if os.geteuid() == 0 else None
        tls_port = _free_port() if tls else 0
        ssl = _ssl_settings(root) if tls else "ssl = no"
        config = root / "dovecot.conf"
        config.write_text(
            CONFIG.format(
                root=root,
                user=user,
                group=group,
                uid=uid,
                gid=gid,
                port=port,
                tls_port=tls_port,
                ssl=ssl,
            ),
            encoding="utf-8",
        )
        process = subprocess.Popen(
            [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log = (
                            (root / "dovecot.log").read_text(errors="replace")
                            if (root / "dovecot.log").exists()
                            else ""
                        )
                        stderr = (
                            process.stderr.read().decode(errors="replace") if process.stderr else ""
                        )
                        raise RuntimeError(f"dovecot did not start: {stderr}{log}") from None
                    time.sleep(0.05)
            yield cls(port, "bounces", password, root, tls_port)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            shutil.rmtree(root, ignore_errors=True)
