"""Headless Chromium for the tests: Debian's package, driven by playwright-core (`tests/browser/driver.mjs`).

`make test` installs both first (`make browsers`: apt's chromium, `npm ci` in tests/browser) and sets
RAG_TEST_BROWSER=required, so there a missing browser fails instead of skipping."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

DRIVER_DIR = Path(__file__).resolve().parent / "browser"


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if found:
        return found
    if os.environ.get("RAG_TEST_BROWSER") == "required":
        pytest.fail("no /usr/bin/chromium: `make browsers` installs it (apt-get install chromium fonts-noto-cjk)")
    pytest.skip("no chromium on PATH: `make browsers` installs it (make test does so itself)")


class Browser:
    """One Chromium driven over a line-per-command pipe; `call(op, **args)` returns the page's reply."""

    def __init__(self):
        executable = chromium()
        node = shutil.which("node")
        if node is None or not (DRIVER_DIR / "node_modules" / "playwright-core").exists():
            message = "playwright-core is not installed: `make browsers` runs npm ci in tests/browser"
            if os.environ.get("RAG_TEST_BROWSER") == "required" or node is None:
                pytest.fail(message)
            pytest.skip(message)
        self.process = subprocess.Popen([node, "driver.mjs"], cwd=DRIVER_DIR, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env={**os.environ, "CHROMIUM": executable})

    def call(self, op: str, **args) -> dict:
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the browser driver exited ({self.process.wait(timeout=10)})")
        reply = json.loads(line)
        if not reply["ok"]:
            raise AssertionError(f"browser: {op} failed: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
