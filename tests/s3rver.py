"""s3rver (npm, a Node.js S3 server nobody here wrote) as a second real
server for the tests: installed from .ci/s3rver's lock file, started on
127.0.0.1 with a free port and a throw-away data directory.

`.ci/run` installs it and sets MPUGUI_REQUIRE_S3RVER=1, so in CI a missing
s3rver fails the suite; on a machine without Node.js the s3rver tests skip
with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / ".ci" / "s3rver"
BINARY = PACKAGE / "node_modules" / ".bin" / "s3rver"
# s3rver signs like AWS and knows one account: its own default key.
ACCESS_KEY = SECRET_KEY = "S3RVER"
_LISTENING = re.compile(r"listening on [\d.]+:(\d+)")


def _unavailable(reason: str) -> None:
    if os.environ.get("MPUGUI_REQUIRE_S3RVER") == "1":
        pytest.fail(f"s3rver is required here (MPUGUI_REQUIRE_S3RVER=1): {reason}")
    pytest.skip(reason)


def ensure_installed() -> Path:
    """The s3rver executable, installed with `npm ci` (the lock file's exact
    versions) when Node.js is here and it is not installed yet."""
    if BINARY.exists() and shutil.which("node"):
        return BINARY
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _unavailable("s3rver needs Node.js (node and npm on PATH); .ci/run installs it")
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(PACKAGE)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not BINARY.exists():
        pytest.fail(f"npm ci in {PACKAGE} failed:\n{done.stdout}\n{done.stderr}")
    return BINARY


class S3rver:
    """One s3rver process; `url` is its endpoint (path-style addressing)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> S3rver:
        binary = ensure_installed()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [str(binary), "-d", str(self.data_dir), "-a", "127.0.0.1", "-p", "0", "--silent",
             "--no-vhost-buckets"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self._proc.stdout is not None
        found = threading.Event()
        lines: list[str] = []

        def read() -> None:  # the port line, then drain so the pipe never fills
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                lines.append(line)
                match = _LISTENING.search(line)
                if match and not found.is_set():
                    self.url = f"http://127.0.0.1:{match.group(1)}"
                    found.set()
            found.set()

        self._reader = threading.Thread(target=read, name="s3rver-output", daemon=True)
        # The session's server (conftest's s3rver_server), started by the first
        # test that asks for it: not that test's leak (tests/leaks.py).
        self._reader.serves_the_session = True  # type: ignore[attr-defined]
        self._reader.start()
        if not found.wait(60) or not self.url:
            self.stop()
            pytest.fail("s3rver did not start:\n" + "".join(lines))
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None:
            self._reader.join(10)  # EOF once the process is gone
            if self._proc.stdout is not None:
                self._proc.stdout.close()
        self._proc = None

    def upload_dirs(self, bucket: str) -> list[Path]:
        """What s3rver keeps of in-progress uploads (it cannot abort them)."""
        root = self.data_dir / bucket / "._S3rver_uploads"
        return sorted(root.iterdir()) if root.exists() else []
