"""Aborting in-progress uploads: one, or a list, each until its parts are
gone (a part racing the abort can still land)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mpugui.core.errors import MpuguiError
from mpugui.core.inventory.errors import explain
from mpugui.core.inventory.listing import Upload
from mpugui.core.transfer import multipart


@dataclass(frozen=True)
class AbortResult:
    upload: Upload
    ok: bool
    error: str | None = None


def abort(client: Any, upload: Upload) -> AbortResult:
    """Abort one upload, then ListParts until it is gone (a part racing the
    abort can still land: abort again). Never raises for S3 errors."""
    try:
        multipart.abort_until_empty(client, upload.bucket, upload.key, upload.upload_id)
    except ClientError as exc:
        return AbortResult(upload, False, explain(exc, upload.bucket))
    except MpuguiError as exc:
        return AbortResult(upload, False, str(exc))
    return AbortResult(upload, True)


def abort_many(client: Any, uploads: Iterable[Upload],
               on_result: Callable[[AbortResult], None] | None = None,
               cancel: threading.Event | None = None) -> list[AbortResult]:
    results = []
    for upload in uploads:
        if cancel is not None and cancel.is_set():
            break
        result = abort(client, upload)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
