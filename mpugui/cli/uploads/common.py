"""What the `mpugui uploads` commands share: output (plain lines or --json
objects), the time ages are measured from, prices, the journal's view of
uploads. (Their exit codes are every command's: mpugui.cli.exit_codes.)"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from typing import Any

from mpugui.core.errors import MpuguiError
from mpugui.core.inventory.listing import (
    journal_index,
    parse_time,
    utc_now,
)
from mpugui.core.orphans.prices import PriceTable, load_table
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.s3.uri import parse_s3_uri
from mpugui.core.states import CANCELLED, FINAL_STATES

NOW_ENV = "MPUGUI_NOW"


def prices_for(args: argparse.Namespace, endpoint: Endpoint) -> PriceTable:
    """The one price table of every estimate (the window's too): AWS's,
    with the user's prices for this store; --price-per-gb-month wins."""
    flat = getattr(args, "price_per_gb_month", None)
    if flat is not None:
        return PriceTable().only(flat)
    return load_table(endpoint_url=endpoint.endpoint_url)



class Out:
    def __init__(self, as_json: bool) -> None:
        self.json = as_json

    def obj(self, data: dict[str, Any]) -> None:
        print(json.dumps(data, default=json_default), flush=True)

    def line(self, text: str = "") -> None:
        if not self.json:
            print(text, flush=True)

    def error(self, text: str) -> None:
        print(f"mpugui: {text}", file=sys.stderr, flush=True)


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def ages_from(args: argparse.Namespace) -> datetime:
    text = getattr(args, "now", None) or os.environ.get(NOW_ENV)
    return parse_time(text) if text else utc_now()


def s3_client(endpoint: Endpoint) -> Any:
    return ClientFactory().client(endpoint)


def key_target(args: argparse.Namespace) -> tuple[str, str]:
    bucket, key = parse_s3_uri(args.target)
    if not key:
        raise MpuguiError(f"'{args.target}' names no key; write it as s3://BUCKET/KEY.")
    return bucket, key


def journal_upload_ids() -> dict[str, int]:
    from mpugui.core import paths
    from mpugui.core.journal.store import Journal, JournalError

    try:
        journal = Journal(paths.journal_path())
    except JournalError:
        return {}  # listing still works without the journal
    try:
        return {uid: rec.id for uid, rec in journal_index(journal).items()}
    finally:
        journal.close()


def forget_in_journal(upload_ids: set[str]) -> None:
    """A journaled transfer whose upload was aborted here cannot resume:
    mark it cancelled, as `mpugui cancel` would have."""
    if not upload_ids:
        return
    from mpugui.core import paths
    from mpugui.core.journal.store import Journal, JournalError

    try:
        journal = Journal(paths.journal_path())
    except JournalError:
        return
    try:
        for upload_id, rec in journal_index(journal).items():
            if upload_id in upload_ids and rec.state not in FINAL_STATES:
                journal.forget_parts(rec.id)
                journal.update(rec.id, state=CANCELLED, error=None)
    finally:
        journal.close()
