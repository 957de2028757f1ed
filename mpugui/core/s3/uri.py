"""s3://bucket/key parsing."""

from __future__ import annotations

from mpugui.core.errors import MpuguiError


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/some/key' -> ('bucket', 'some/key')."""
    if not uri.startswith("s3://"):
        raise MpuguiError(f"'{uri}' is not an S3 URI; write it as s3://BUCKET/KEY.")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise MpuguiError(f"'{uri}' names no bucket; write it as s3://BUCKET/KEY.")
    if len(bucket) < 3 or len(bucket) > 63 or not all(
            c.isalnum() or c in ".-_" for c in bucket):
        raise MpuguiError(f"'{bucket}' is not a valid bucket name (3 to 63 letters, digits, "
                          "dots and hyphens).")
    return bucket, key
