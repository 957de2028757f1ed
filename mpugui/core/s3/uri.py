"""s3://bucket/key parsing."""

from __future__ import annotations

import re

from mpugui.core.errors import MpuguiError


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/some/key' -> ('bucket', 'some/key')."""
    if not uri.startswith("s3://"):
        raise MpuguiError(f"'{uri}' is not an S3 URI; write it as s3://BUCKET/KEY.")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise MpuguiError(f"'{uri}' names no bucket; write it as s3://BUCKET/KEY.")
    problem = bucket_name_problem(bucket)
    if problem:
        raise MpuguiError(problem)
    return bucket, key


# What S3 and the compatible stores accept (old us-east-1 buckets may be up to
# 255 characters, with capitals and underscores); AWS is stricter for new ones.
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$")


def bucket_name_problem(name: str) -> str | None:
    """The sentence for a name no store accepts, or None. The same check in
    the CLI, the destination dialog and Test connection."""
    if _BUCKET_RE.match(name) and ".." not in name:
        return None
    return (f"'{name}' is not a valid bucket name: 3 to 255 letters, digits, dots or "
            "hyphens, without '/' or spaces.")
