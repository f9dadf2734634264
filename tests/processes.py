"""Helpers for tests that start real server processes (gunicorn, Celery worker, beat)."""

from __future__ import annotations

import signal
import subprocess


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
