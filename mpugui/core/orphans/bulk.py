"""Acting on many buckets at once: merge the abort-incomplete rule into each
one's lifecycle ("Protect all"), and abort uploads found across the account.
Each bucket is talked to in its own region; a failure is reported for its
bucket or upload and never stops the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError

from mpugui.core.errors import MpuguiError, describe
from mpugui.core.inventory.aborts import AbortResult, abort
from mpugui.core.inventory.lifecycle import LifecycleChange, set_abort_incomplete
from mpugui.core.orphans.results import ScannedUpload
from mpugui.core.s3.endpoint import ClientFactory, Endpoint


@dataclass(frozen=True)
class ProtectResult:
    bucket: str
    region: str
    change: LifecycleChange | None  # None when it failed
    error: str | None = None

    def sentence(self) -> str:
        if self.change is None:
            return f"{self.bucket}: not changed: {self.error}"
        if not self.change.changed:
            return f"{self.bucket}: already aborts incomplete uploads after " \
                   f"{self.change.days} days; nothing to change."
        if self.change.applied:
            return f"{self.bucket}: now aborts incomplete uploads after {self.change.days} days."
        return f"{self.bucket}: would abort incomplete uploads after {self.change.days} days " \
               "(dry run, nothing written)."


def protect_all(clients: ClientFactory, endpoint: Endpoint, buckets: Iterable[tuple[str, str]],
                days: int, *, prefix: str = "", dry_run: bool = False,
                on_result: Callable[[ProtectResult], None] | None = None,
                cancel: Callable[[], bool] | None = None) -> list[ProtectResult]:
    """For each (bucket, region): read, merge, write back (unless dry_run or
    nothing changes), keeping every other rule. Idempotent."""
    results = []
    for bucket, region in buckets:
        if cancel is not None and cancel():
            break
        try:
            client = clients.client(endpoint.with_(region=region) if region else endpoint)
            result = ProtectResult(bucket, region, set_abort_incomplete(
                client, bucket, days, prefix, dry_run=dry_run))
        except (MpuguiError, BotoCoreError) as exc:
            result = ProtectResult(bucket, region, None, describe(exc, bucket=bucket))
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def abort_uploads(clients: ClientFactory, endpoint: Endpoint, rows: Iterable[ScannedUpload],
                  on_result: Callable[[ScannedUpload, AbortResult], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> list[AbortResult]:
    """Abort each upload in its bucket's region (then ListParts until no part
    is left, as inventory.abort does)."""
    results = []
    for row in rows:
        if cancel is not None and cancel():
            break
        try:
            client = clients.client(endpoint.with_(region=row.region) if row.region
                                    else endpoint)
            result = abort(client, row.upload)
        except (MpuguiError, BotoCoreError) as exc:
            result = AbortResult(row.upload, False, describe(exc, bucket=row.upload.bucket))
        results.append(result)
        if on_result is not None:
            on_result(row, result)
    return results
