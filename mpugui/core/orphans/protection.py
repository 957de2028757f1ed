"""Whether a bucket aborts its incomplete uploads by itself: an enabled
lifecycle rule with AbortIncompleteMultipartUpload, after how many days and
for which prefix. Read with the same call the lifecycle merge uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mpugui.core.inventory.errors import InventoryError
from mpugui.core.inventory.lifecycle import read_lifecycle, rule_scope

PROTECTED, PARTIAL, UNPROTECTED, UNKNOWN = "protected", "partial", "unprotected", "unknown"


@dataclass(frozen=True)
class Protection:
    status: str  # PROTECTED (whole bucket), PARTIAL (some prefixes), UNPROTECTED, UNKNOWN
    days: int | None = None  # the whole-bucket rule's days (PROTECTED), else the shortest
    rules: tuple[tuple[str, int], ...] = ()  # (prefix, days) of every enabled abort rule
    error: str | None = None  # why it is UNKNOWN (a sentence)

    def sentence(self) -> str:
        if self.status == PROTECTED:
            return f"Aborts incomplete uploads after {self.days} days."
        if self.status == PARTIAL:
            where = ", ".join(f"'{p}' after {d} days" for p, d in self.rules)
            return f"Aborts incomplete uploads only under {where}."
        if self.status == UNPROTECTED:
            return "No lifecycle rule aborts incomplete uploads."
        return self.error or "The lifecycle rules could not be read."

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "days": self.days,
                "rules": [{"prefix": p, "days": d} for p, d in self.rules],
                "error": self.error}


def protection_of(rules: list[dict[str, Any]]) -> Protection:
    found = []
    for rule in rules:
        abort = rule.get("AbortIncompleteMultipartUpload")
        if not abort or rule.get("Status") != "Enabled":
            continue
        scope = rule_scope(rule)
        days = abort.get("DaysAfterInitiation")
        if scope is None or days is None:
            continue
        found.append((scope, int(days)))
    found.sort()
    whole = [d for p, d in found if p == ""]
    if whole:
        return Protection(PROTECTED, min(whole), tuple(found))
    if found:
        return Protection(PARTIAL, min(d for _, d in found), tuple(found))
    return Protection(UNPROTECTED)


def read_protection(client: Any, bucket: str) -> Protection:
    """The bucket's protection; UNKNOWN with the sentence when the rules
    cannot be read (e.g. s3:GetLifecycleConfiguration is denied)."""
    try:
        rules, _ = read_lifecycle(client, bucket)
    except InventoryError as exc:
        return Protection(UNKNOWN, error=str(exc))
    return protection_of(rules)
