"""Real servers on loopback for the telemetry tests: mosquitto, a throw-away PostgreSQL
cluster, headless Chromium. Each starts on a free port in a temporary directory and is
stopped by the test. A missing Debian package skips the test on a developer's machine and
fails it in CI (conftest.require_tool; .ci/run installs them, so CI runs every test).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from conftest import require_tool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def need(binary: str, package: str = "") -> str:
    """The program's path (`package` is kept for callers; conftest.TOOLS names it)."""
    return require_tool(binary)


class Mosquitto:
    """A broker with a password file and persistence (sessions and queued QoS 1 messages
    survive a restart, as a deployed broker should be configured)."""

    def __init__(self, users: dict[str, str] | None = None, acl: str | None = None) -> None:
        self.bin = need("mosquitto", "mosquitto")
        self.dir = tempfile.mkdtemp(prefix="mosq")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        me = pwd.getpwuid(os.getuid()).pw_name
        conf = [f"listener {self.port} 127.0.0.1", f"user {me}", "persistence true",
                f"persistence_location {self.dir}/", "autosave_interval 1",
                "max_queued_messages 100000", "log_dest stderr", "log_type error"]
        if users:
            pw = os.path.join(self.dir, "passwd")
            for i, (u, p) in enumerate(users.items()):
                flags = ["-c"] if i == 0 else []
                subprocess.run([need("mosquitto_passwd", "mosquitto"), "-b", *flags, pw, u, p],
                               check=True, capture_output=True)
            os.chmod(pw, 0o600)
            conf += ["allow_anonymous false", f"password_file {pw}"]
            if acl:  # e.g. docs/telemetry.md's one user per board: pattern write <topic>/%u/#
                path = os.path.join(self.dir, "acl")
                with open(path, "w") as f:
                    f.write(acl)
                conf.append(f"acl_file {path}")
        else:
            conf.append("allow_anonymous true")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")

    def start(self) -> "Mosquitto":
        self.proc = subprocess.Popen([self.bin, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "log"), "a"))
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)  # saves the persistence file
            self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Postgres:
    """initdb + postgres in a temporary directory, listening on a free loopback port.
    PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user
    (runuser); otherwise to the current user."""

    def __init__(self) -> None:
        self.bindir = os.path.dirname(require_tool("postgresql"))
        self.dir = tempfile.mkdtemp(prefix="pg")
        self.port = free_port()
        self.as_user: list[str] = []
        self.user = pwd.getpwuid(os.getuid()).pw_name
        if os.getuid() == 0:
            self.user = "postgres"
            os.chown(self.dir, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = os.path.join(self.dir, "data")
        subprocess.run([*self.as_user, f"{self.bindir}/initdb", "-D", self.data, "-A", "trust",
                        "-U", self.user, "--no-sync"], check=True, capture_output=True)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def start(self) -> "Postgres":
        self.proc = subprocess.Popen(
            [*self.as_user, f"{self.bindir}/postgres", "-D", self.data, "-p", str(self.port),
             "-h", "127.0.0.1", "-k", self.dir, "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 30
        import psycopg

        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are cut), keep its data."""
        if self.proc is not None:
            subprocess.run([*self.as_user, f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "fast", "-w",
                            "-t", "30", "stop"], capture_output=True, timeout=60)
            self.proc.wait(30)
            self.proc = None

    def reset(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as c:
            c.execute("DROP TABLE IF EXISTS events")

    def close(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def chromium() -> str:
    return require_tool("chromium")
