"""The account's totals and the one sentence that answers "where is my
orphaned storage and what does it cost": "1.2 TiB in 3,412 unfinished
uploads, about $27.60 a month, 92% of it in 3 buckets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mpugui.core.inventory.listing import format_cost
from mpugui.core.orphans.protection import PROTECTED
from mpugui.core.orphans.results import BucketReport
from mpugui.core.units import format_bytes

CONCENTRATION = 0.8  # name the few buckets that hold at least this share


@dataclass(frozen=True)
class Totals:
    buckets: int
    uploads: int
    parts: int
    bytes: int
    monthly_cost: float
    unreadable: int  # buckets whose uploads could not be listed
    unprotected: int  # buckets with no whole-bucket abort rule (or unknown)
    top_buckets: int  # the fewest buckets holding `top_share` of the cost
    top_share: float
    holding: int  # buckets with at least one unfinished upload

    def sentence(self) -> str:
        if not self.uploads:
            text = (f"No unfinished uploads in {self.buckets:,} "
                    f"{_plural(self.buckets, 'bucket')}.")
        else:
            text = (f"{format_bytes(self.bytes)} in {self.uploads:,} unfinished "
                    f"{_plural(self.uploads, 'upload')}, about "
                    f"{format_cost(self.monthly_cost)} a month")
            if self.holding == 1:
                text += ", all of it in one bucket"
            elif self.top_buckets and self.top_buckets < self.holding:
                text += (f", {int(self.top_share * 100)}% of it in {self.top_buckets} "
                         f"{_plural(self.top_buckets, 'bucket')}")
            elif self.holding:
                text += f", spread over {self.holding} buckets"
            text += "."
        if self.unreadable:
            text += (f" {self.unreadable} {_plural(self.unreadable, 'bucket')} could not be "
                     "read.")
        return text


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def totals(reports: Iterable[BucketReport]) -> Totals:
    listed = list(reports)
    holding = [r for r in listed if r.uploads]
    cost = sum(r.monthly_cost for r in listed)
    size = sum(r.bytes for r in listed)
    # Concentration by cost; by bytes when nothing costs anything (flat price 0).
    weight = (lambda r: r.monthly_cost) if cost > 0 else (lambda r: float(r.bytes))
    whole = cost if cost > 0 else float(size)
    top, share = 0, 0.0
    if whole > 0:
        acc = 0.0
        for r in sorted(holding, key=weight, reverse=True):
            acc += weight(r)
            top += 1
            if acc >= CONCENTRATION * whole:
                break
        share = acc / whole
    return Totals(
        buckets=len(listed), uploads=sum(r.uploads for r in listed),
        parts=sum(r.parts for r in listed), bytes=size, monthly_cost=cost,
        unreadable=sum(1 for r in listed if r.error),
        unprotected=sum(1 for r in listed
                        if r.protection is None or r.protection.status != PROTECTED),
        top_buckets=top, top_share=share, holding=len(holding))
