"""The bucket's lifecycle rule that aborts incomplete uploads server-side
after N days: read the rules, merge ours in without touching the others,
describe a rule in a sentence."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mpugui.core.errors import error_code
from mpugui.core.inventory.errors import InventoryError, fail

ABORT_RULE_ID = "mpugui-abort-incomplete-multipart-uploads"


@dataclass
class LifecycleChange:
    bucket: str
    days: int
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    applied: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after


def read_lifecycle(client: Any, bucket: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The bucket's lifecycle rules and the other top-level settings that a
    PUT must carry back; no configuration means no rules."""
    try:
        resp = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) == "NoSuchLifecycleConfiguration":
            return [], {}
        raise fail(exc, bucket) from exc
    extra = {k: resp[k] for k in ("TransitionDefaultMinimumObjectSize",) if resp.get(k)}
    return list(resp.get("Rules", [])), extra


def rule_scope(rule: dict[str, Any]) -> str | None:
    """The prefix a rule applies to, or None when it also filters by tag or
    size (an abort rule cannot have those, so it is not ours to update)."""
    if "Filter" not in rule:
        return str(rule.get("Prefix", ""))  # the legacy top-level prefix
    f = rule["Filter"] or {}
    if set(f) - {"Prefix"}:
        return None
    return str(f.get("Prefix", ""))


def merge_abort_rule(rules: list[dict[str, Any]], days: int,
                     prefix: str = "") -> list[dict[str, Any]]:
    """The rules with incomplete uploads under `prefix` aborted after `days`:
    every other rule is kept; an existing abort rule of the same scope is
    updated instead of adding a second one. A disabled rule is only enabled
    when aborting is all it does (enabling it must not switch on, say, an
    expiration someone turned off)."""
    if days < 1:
        raise InventoryError("The number of days must be at least 1.")
    after = copy.deepcopy(rules)
    for rule in after:
        if "AbortIncompleteMultipartUpload" not in rule or rule_scope(rule) != prefix:
            continue
        others = set(rule) - {"ID", "Filter", "Prefix", "Status",
                              "AbortIncompleteMultipartUpload"}
        if rule.get("Status") == "Enabled" or not others:
            rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
            rule["Status"] = "Enabled"
            return after
    ids = {r.get("ID") for r in after}
    rule_id, n = ABORT_RULE_ID, 2
    while rule_id in ids:
        rule_id, n = f"{ABORT_RULE_ID}-{n}", n + 1
    after.append({"ID": rule_id, "Status": "Enabled", "Filter": {"Prefix": prefix},
                  "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": int(days)}})
    return after


def set_abort_incomplete(client: Any, bucket: str, days: int, prefix: str = "",
                         dry_run: bool = False) -> LifecycleChange:
    """Read, merge and (unless dry_run or nothing changes) write back the
    bucket's one lifecycle configuration. Running it twice changes nothing."""
    before, extra = read_lifecycle(client, bucket)
    change = LifecycleChange(bucket, days, before, merge_abort_rule(before, days, prefix))
    if change.changed and not dry_run:
        try:
            client.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": change.after}, **extra)
        except ClientError as exc:
            raise fail(exc, bucket) from exc
        change.applied = True
    return change


def describe_rule(rule: dict[str, Any]) -> str:
    """One line per rule for the before/after view."""
    scope = rule_scope(rule)
    where = "whole bucket" if scope == "" else f"prefix '{scope}'" if scope is not None \
        else "filtered"
    actions = []
    if "Expiration" in rule:
        exp = rule["Expiration"]
        if "Days" in exp:
            actions.append(f"expire objects after {exp['Days']} days")
        elif "Date" in exp:
            actions.append(f"expire objects on {exp['Date']}")
        elif exp.get("ExpiredObjectDeleteMarker"):
            actions.append("remove expired delete markers")
    if "Transitions" in rule or "Transition" in rule:
        actions.append("transition objects")
    if "NoncurrentVersionExpiration" in rule:
        actions.append("expire noncurrent versions")
    if "NoncurrentVersionTransitions" in rule:
        actions.append("transition noncurrent versions")
    if "AbortIncompleteMultipartUpload" in rule:
        d = rule["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation")
        actions.append(f"abort incomplete uploads after {d} days")
    status = str(rule.get("Status", "")).lower()
    return f"{rule.get('ID') or '(no id)'} [{status}, {where}]: " + (
        "; ".join(actions) or "no action")
