"""The last scan of each account, remembered with its time in
$MPUGUI_HOME/last_scan.json, so the window opens on what was found instead
of an empty list (and says how old that is)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from mpugui.core.inventory.errors import InventoryError
from mpugui.core.inventory.listing import parse_time
from mpugui.core.orphans.results import AccountScan, BucketReport, ScannedUpload
from mpugui.core.paths import private_file, state_dir

log = logging.getLogger("mpugui.orphans")
FILE_NAME = "last_scan.json"
VERSION = 1


def default_path() -> Path:
    return state_dir() / FILE_NAME


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("The last scan in %s cannot be read (%s); starting afresh.", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    return data


def save(scan: AccountScan, path: Path | None = None) -> None:
    """Replace the account's remembered scan (others are kept); atomic."""
    path = path or default_path()
    data = _read(path) or {"version": VERSION, "scans": {}}
    now = scan.finished or scan.started
    data.setdefault("scans", {})[scan.account] = {
        "started": scan.started.isoformat(),
        "finished": scan.finished.isoformat() if scan.finished else None,
        "stopped": scan.stopped, "skipped_buckets": scan.skipped_buckets,
        "buckets": [b.as_json(now, digits=None) for b in scan.buckets.values()],
        "uploads": [u.as_json(now, digits=None) for u in scan.uploads],
    }
    tmp = path.with_suffix(".tmp")
    private_file(tmp)
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def load(account: str, path: Path | None = None) -> AccountScan | None:
    """The account's last scan, or None when there is none (or it is unreadable)."""
    entry = _read(path or default_path()).get("scans", {}).get(account)
    if not entry:
        return None
    try:
        scan = AccountScan(account, parse_time(entry["started"]),
                           parse_time(entry["finished"]) if entry.get("finished")
                           else None, bool(entry.get("stopped")),
                           skipped_buckets=int(entry.get("skipped_buckets", 0)))
        for b in entry.get("buckets", []):
            scan.bucket_done(BucketReport.from_json(b))
        scan.uploads = [ScannedUpload.from_json(u) for u in entry.get("uploads", [])]
    except (KeyError, TypeError, ValueError, InventoryError) as exc:
        log.warning("The last scan of %s cannot be read (%s).", account, exc)
        return None
    return scan
