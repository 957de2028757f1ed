"""The README's system library lists and what `.ci/run` installs stay one
list (issue 14: the README's was incomplete)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _apt_packages(text: str) -> set[str]:
    names: set[str] = set()
    for command in re.findall(r"apt-get install((?:[^\n]*\\\n)*[^\n]*)", text):
        names.update(w for w in command.replace("\\\n", " ").split()
                     if re.fullmatch(r"lib[\w.+-]+|fonts-[\w-]+|xvfb|xdotool", w))
    return names


def test_readme_and_ci_install_the_same_system_libraries() -> None:
    readme = _apt_packages((ROOT / "README.md").read_text())
    ci = _apt_packages((ROOT / ".ci" / "run").read_text())
    assert {"libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0"} <= readme
    assert readme <= ci, readme - ci
    # CI's extras: fonts for the offscreen renders, tests/e2e's X server and XTest driver
    assert ci - readme <= {"fonts-dejavu-core", "xvfb", "xdotool"}
