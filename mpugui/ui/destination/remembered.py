"""The destination dialog's last choice, remembered per account in QSettings
(mpugui.ini; never a secret): the account used last, and for each account
its bucket, prefix, storage class, checksum, overwrite policy, part size,
concurrency and, for drops of files only, whether to skip existing files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import QSettings

from mpugui.ui.destination.destination import Destination

LAST_ACCOUNT = "destinations/last_account"


@dataclass(frozen=True)
class Remembered:
    bucket: str
    prefix: str
    storage_class: str | None
    checksum: str | None  # None: the account's default
    no_overwrite: bool
    part_size: int  # 0: automatic
    concurrency: int  # 0: automatic
    skip_existing_files: bool


def _group(account: str) -> str:
    # Account names may hold '/' or '=': keep each one a single INI key.
    return "destinations/" + (quote(account, safe="") or "_default")


def last_account(settings: QSettings) -> str | None:
    value = settings.value(LAST_ACCOUNT)
    return None if value is None else str(value)


def remember(settings: QSettings, account: str, dest: Destination, *, has_folder: bool) -> None:
    """Keep `dest` as `account`'s choice (and `account` as the last used).
    A folder drop starts with skipping ticked whatever was chosen, so only
    a drop of files only keeps that box."""
    s = settings
    s.setValue(LAST_ACCOUNT, account)
    s.beginGroup(_group(account))
    s.setValue("bucket", dest.bucket)
    s.setValue("prefix", dest.prefix)
    s.setValue("storage_class", dest.storage_class or "")
    s.setValue("checksum", dest.checksum or "")
    s.setValue("no_overwrite", dest.no_overwrite)
    s.setValue("part_size", dest.part_size or 0)
    s.setValue("concurrency", dest.concurrency or 0)
    if not has_folder:
        s.setValue("skip_existing_files", dest.skip_existing)
    s.endGroup()
    s.sync()


def recall(settings: QSettings, account: str) -> Remembered:
    """`account`'s last choice (empty values the first time)."""
    s = settings
    s.beginGroup(_group(account))
    try:
        return Remembered(
            bucket=str(s.value("bucket", "") or ""),
            prefix=str(s.value("prefix", "") or ""),
            storage_class=str(s.value("storage_class", "") or "") or None,
            checksum=str(s.value("checksum", "") or "") or None,
            no_overwrite=_flag(s.value("no_overwrite", "false")),
            part_size=_int(s.value("part_size", 0)),
            concurrency=_int(s.value("concurrency", 0)),
            skip_existing_files=_flag(s.value("skip_existing_files", "false")))
    finally:
        s.endGroup()


def _flag(value: Any) -> bool:
    return str(value).lower() in ("true", "1")


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
