"""The one way to abort a list of in-progress uploads (the CLI, the
In-progress tab, the All buckets view and its bulk actions all call
abort_uploads): each upload until its parts are gone (a part racing the
abort can still land), in its bucket's region; a failure is reported for
its upload and never stops the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mpugui.core.errors import MpuguiError, describe
from mpugui.core.inventory.errors import explain
from mpugui.core.inventory.listing import Upload
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.transfer import multipart


@dataclass(frozen=True)
class AbortResult:
    upload: Upload
    ok: bool
    error: str | None = None


def abort_uploads(clients: ClientFactory, endpoint: Endpoint, uploads: Iterable[Upload], *,
                  regions: Mapping[str, str] | None = None,
                  on_result: Callable[[AbortResult], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> list[AbortResult]:
    """Abort each upload, then ListParts until it is gone (abort again if a
    part landed meanwhile). `regions` maps a bucket to the region it is
    talked to in (else `endpoint`'s); `cancel` stops before the next one.
    Never raises for S3 errors: each becomes a failed AbortResult."""
    results = []
    for upload in uploads:
        if cancel is not None and cancel():
            break
        region = (regions or {}).get(upload.bucket)
        try:
            client = clients.client(endpoint.with_(region=region) if region else endpoint)
            result = _abort_one(client, upload)
        except (MpuguiError, BotoCoreError) as exc:
            result = AbortResult(upload, False, describe(exc, bucket=upload.bucket))
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _abort_one(client: Any, upload: Upload) -> AbortResult:
    try:
        multipart.abort_until_empty(client, upload.bucket, upload.key, upload.upload_id)
    except ClientError as exc:
        return AbortResult(upload, False, explain(exc, upload.bucket))
    except MpuguiError as exc:
        return AbortResult(upload, False, str(exc))
    return AbortResult(upload, True)
