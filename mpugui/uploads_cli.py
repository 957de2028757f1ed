"""`mpugui uploads ...`: in-progress multipart uploads (filled in by the
uploads-browser work)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def add_parser(sub: Any, endpoint_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("uploads", help="in-progress multipart uploads of a bucket")
    endpoint_options(p)


def run(args: argparse.Namespace) -> int:
    print("mpugui uploads: not available yet")
    return 2
