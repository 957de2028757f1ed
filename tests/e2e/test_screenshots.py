"""The README's screenshots can be made again: resources/make_screenshots.py
runs against the sandbox and writes every picture the README shows (a
refactor that moves what the script drives breaks here, not at the next
README update)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PICTURES = ("main_window.png", "destination_dialog.png", "account_dialog.png",
            "uploads_browser.png", "prices_dialog.png")


def test_the_screenshot_script_writes_every_picture(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MPUGUI_HOME": str(tmp_path / "home")}
    run = subprocess.run([sys.executable, str(ROOT / "resources" / "make_screenshots.py"),
                          "--out", str(tmp_path / "shots")], env=env, capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    for name in PICTURES:
        png = (tmp_path / "shots" / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000, name
