"""What the destination dialog hands back: where the files go and how
(a Destination), with the rules for a typed prefix and bucket name. Qt-free."""

from __future__ import annotations

from dataclasses import dataclass

from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.s3.uri import bucket_name_problem


@dataclass(frozen=True)
class Destination:
    endpoint: Endpoint
    bucket: str
    prefix: str  # "" or ends with "/"
    storage_class: str | None
    checksum: str | None
    no_overwrite: bool
    part_size: int | None  # None: planned automatically
    concurrency: int | None  # None: the engine's setting
    # Skip files whose object already exists with the same size and content
    # (mpugui.core.transfer.unchanged decides).
    skip_existing: bool = False

    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def normalize_prefix(text: str) -> str:
    """What a person types as a folder, as a key prefix: no leading '/',
    one trailing '/' (so a single file keeps its name), or empty."""
    prefix = text.strip().lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def bucket_problem(name: str) -> str | None:
    if not name:
        return "Choose a bucket, or type its name."
    return bucket_name_problem(name)
