"""Values a person types for an upload's options, checked once: the CLI's
options and the window's fields refuse the same values with the same words.

Each parser raises ValueError with a sentence fragment naming the value (the
caller names the field: "argument --part-size: ...", "Part size: ...").
"""

from __future__ import annotations

import re

from mpugui.core.s3.plan import concurrency_problem, part_size_problem
from mpugui.core.units import parse_size

# What the lifecycle dialogs offer (ten years): a rule beyond is a typo.
MAX_ABORT_DAYS = 3650


def parse_part_size(text: str) -> int:
    size = parse_size(text)
    problem = part_size_problem(size)
    if problem:
        raise ValueError(problem)
    return size


def parse_concurrency(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a whole number of parts") from None
    problem = concurrency_problem(n)
    if problem:
        raise ValueError(problem + " (leave the option out for the adaptive default)")
    return n


def parse_days(text: str) -> int:
    """'7' or '7d' -> 7: whole days, 1 to MAX_ABORT_DAYS."""
    m = re.fullmatch(r"\s*(\d+)\s*d?\s*", text.lower())
    if not m:
        raise ValueError(f"'{text}' is not a whole number of days (e.g. 7)")
    days = int(m.group(1))
    if not 1 <= days <= MAX_ABORT_DAYS:
        raise ValueError(f"{days} days is outside 1 to {MAX_ABORT_DAYS}")
    return days
