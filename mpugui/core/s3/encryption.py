"""Whether a server's ETags are MD5s: not under SSE-KMS or SSE-C (AWS
documents this), whatever their shape.

Told by the `x-amz-server-side-encryption` answer header (AWS sends it on
PutObject, UploadPart, Complete and HEAD) and, for servers that leave it off
some answers (moto's UploadPart), by the bucket's default encryption.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("mpugui.s3")

# SSE-S3 (AES256) keeps MD5 ETags; these do not.
_OPAQUE = frozenset({"aws:kms", "aws:kms:dsse"})


def hides_md5(sse: str | None) -> bool:
    """The value of x-amz-server-side-encryption (botocore's ServerSideEncryption)."""
    return (sse or "").lower() in _OPAQUE


def object_hides_md5(head: dict[str, Any]) -> bool:
    """From a HEAD (or any object answer): KMS, or a customer key (SSE-C)."""
    return hides_md5(head.get("ServerSideEncryption")) or bool(head.get("SSECustomerAlgorithm"))


class BucketEncryption:
    """GetBucketEncryption per bucket, asked once and only when an ETag
    disagrees (a denied or unimplemented call counts as 'not known')."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], bool] = {}

    def hides_md5(self, client: Any, bucket: str) -> bool:
        key = (str(getattr(client.meta, "endpoint_url", "")), bucket)
        with self._lock:
            if key in self._known:
                return self._known[key]
        try:
            rules = client.get_bucket_encryption(Bucket=bucket)[
                "ServerSideEncryptionConfiguration"].get("Rules", [])
            opaque = any(hides_md5(r.get("ApplyServerSideEncryptionByDefault", {})
                                   .get("SSEAlgorithm")) for r in rules)
        except (ClientError, BotoCoreError, KeyError):
            log.info("The default encryption of %s is not known", bucket, exc_info=True)
            opaque = False
        with self._lock:
            self._known[key] = opaque
        return opaque


# One per process: a bucket's default encryption is a property of the bucket,
# and the lookup is only made on the (rare) path where an ETag disagrees.
BUCKETS = BucketEncryption()
