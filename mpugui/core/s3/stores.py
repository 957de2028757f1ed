"""Stores recognisable from their endpoint's host name, and the quirks the
code must respect there (one table, consulted by core/s3/endpoint.py, instead of
special cases spread through the code; rclone keeps its providers the same
way). Anything else is an S3 like AWS unless the account's switches say
otherwise. Sources: README, "Compatible stores".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlparse


@dataclass(frozen=True)
class Quirks:
    name: str
    equal_parts: bool = False  # every part but the last one size (R2's documented limit)
    no_checksum_headers: bool = False  # refuses botocore's/our x-amz-checksum-* (GCS)


# Domain -> quirks; the domain itself or any host under it matches.
_BY_DOMAIN = (
    ("r2.cloudflarestorage.com", Quirks("Cloudflare R2", equal_parts=True)),
    ("storage.googleapis.com", Quirks("Google Cloud Storage", no_checksum_headers=True)),
)
NONE = Quirks("")


@functools.lru_cache(maxsize=64)  # asked per file planned: 100,000 times for a folder
def quirks_for(endpoint_url: str | None) -> Quirks:
    host = (urlparse(endpoint_url).hostname or "").lower() if endpoint_url else ""
    for domain, quirks in _BY_DOMAIN:
        if host == domain or host.endswith("." + domain):
            return quirks
    return NONE
