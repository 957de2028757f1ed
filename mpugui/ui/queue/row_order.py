"""The queue's rows in display order, as two parallel lists: the rows and
their keys, strictly rising (or falling, when sorted descending). These are
the list operations the model's updates are made of — find a key by bisect,
cut runs of rows out, merge rows back in, find which changed rows are out of
order — each copying by slices, never row by row in Python. Qt-free: the
model wraps them in its row and layout signals."""

from __future__ import annotations

import bisect
from typing import Any, TypeVar

T = TypeVar("T")


def before(a: Any, b: Any, desc: bool) -> bool:
    """Whether key `a` goes above key `b`."""
    return a > b if desc else a < b


def find(keys: list[Any], k: Any, desc: bool) -> int:
    """Where `k` is or would go in `keys` (bisect, either direction)."""
    if not desc:
        return bisect.bisect_left(keys, k)
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[mid] > k:
            lo = mid + 1
        else:
            hi = mid
    return lo


def runs(rows: list[int]) -> list[tuple[int, int]]:
    """Ascending rows as (first, last) runs of consecutive ones."""
    out: list[tuple[int, int]] = []
    for r in rows:
        if out and r == out[-1][1] + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


def cut(items: list[T], spans: list[tuple[int, int]]) -> list[T]:
    """`items` without the ascending (first, last) runs, copied by slices."""
    out: list[T] = []
    start = 0
    for first, last in spans:
        out += items[start:first]
        start = last + 1
    out += items[start:]
    return out


def merge(rows: list[T], keys: list[Any], items: list[tuple[Any, T]],
          desc: bool) -> tuple[list[T], list[Any]]:
    """`rows` and `keys` with `items` ((key, row) pairs, in display order)
    put where their keys belong; the rows between are copied by slices."""
    out_rows: list[T] = []
    out_keys: list[Any] = []
    start = 0
    for k, t in items:
        at = find(keys, k, desc)
        out_rows += rows[start:at]
        out_keys += keys[start:at]
        out_rows.append(t)
        out_keys.append(k)
        start = at
    out_rows += rows[start:]
    out_keys += keys[start:]
    return out_rows, out_keys


def out_of_order(keys: list[Any], rows: list[int], desc: bool) -> set[int]:
    """Which of the ascending `rows` (keys just changed) must move so that
    the rest are in order: those out of order with their nearest
    neighbours that stay, found again until none is."""
    n = len(keys)
    out: set[int] = set()
    pending = rows
    while pending:
        bad = []
        for r in pending:
            left, right = r - 1, r + 1
            while left in out:
                left -= 1
            while right in out:
                right += 1
            if (left >= 0 and not before(keys[left], keys[r], desc)) or \
                    (right < n and not before(keys[r], keys[right], desc)):
                bad.append(r)
        if not bad:
            break
        out.update(bad)
        pending = [r for r in pending if r not in out]
    return out


def first(pair: tuple[Any, Any]) -> Any:
    """The key of a (key, row) pair: a sort key for sorted()."""
    return pair[0]
