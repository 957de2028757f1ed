"""What the caller asks for one file: source, destination and how."""

from __future__ import annotations

from dataclasses import dataclass, field

from mpugui.core.s3.endpoint import Endpoint


@dataclass
class UploadRequest:
    source: str
    bucket: str
    key: str
    endpoint: Endpoint = field(default_factory=Endpoint)
    part_size: int | None = None
    checksum: str | None = None
    storage_class: str | None = None
    no_overwrite: bool = False
    content_type: str | None = None
    # (size, mtime_ns) as the walk saw them: a file small enough for one
    # PutObject is then planned without opening it (see engine._plan)
    seen: tuple[int, int] | None = None
