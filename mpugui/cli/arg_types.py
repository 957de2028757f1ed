"""argparse types built from our parsers, so a bad value is refused with
the parser's own sentence rather than argparse's 'invalid value'."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def typed(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse `type` that raises ArgumentTypeError with `parse`'s
    ValueError sentence."""
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = parse.__name__
    return convert
