"""Helpers for tests that start real server processes (gunicorn, Celery worker, beat)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def process_stop(process: subprocess.Popen, *, timeout: float = 30) -> None:
    """SIGTERM, wait for a clean shutdown, then SIGKILL if it does not come; safe twice."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def free_port() -> int:
    """A loopback TCP port nothing listens on at this moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_start(
    env: dict[str, str], *, log: Path, workers: int, timeout: int = 60
) -> tuple[str, subprocess.Popen]:
    """gunicorn serving config.wsgi on a free loopback port, its output in `log`: the base
    URL and the process (wait for it with tests.reliability.test_load._wait_healthy)."""
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "config.wsgi", "--workers", str(workers), "--bind",
             f"127.0.0.1:{port}", "--timeout", str(timeout), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return f"http://127.0.0.1:{port}", server
