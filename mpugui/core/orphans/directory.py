"""Directory buckets (S3 Express One Zone): ListBuckets leaves them out, so
the account scan lists them with ListDirectoryBuckets, region by region.

botocore sends ListDirectoryBuckets to the Regional control endpoint
(s3express-control.REGION.amazonaws.com) of the client's region, and every
later call on a directory bucket to its zonal endpoint with S3 Express
session auth (CreateSession): a client per region does it all. Against an
endpoint URL the request is a plain `GET /?max-directory-buckets=N`, which
a store without directory buckets answers with its general bucket list
(moto does): names that are not directory-bucket names mean the store does
not list them.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mpugui.core.errors import error_code

log = logging.getLogger("mpugui.orphans")

# Where AWS offered S3 Express One Zone on this date (its regional
# endpoints); a scan limited with --regions asks those regions instead.
EXPRESS_REGIONS_AS_OF = "2025-04-10"
EXPRESS_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "ap-south-1", "ap-northeast-1",
                   "eu-west-1", "eu-north-1")
PAGE_SIZE = 1000  # ListDirectoryBuckets' maximum
UNSUPPORTED = ("This store does not list directory buckets (S3 Express One Zone): only "
               "its general purpose buckets were scanned.")
DENIED = ("Directory buckets (S3 Express One Zone) were not listed: these credentials "
          "lack s3express:ListAllMyDirectoryBuckets; general purpose buckets were scanned.")
_UNSUPPORTED_CODES = {"NotImplemented", "MethodNotAllowed", "InvalidRequest",
                      "InvalidArgument", "UnsupportedOperation", "405", "501", "400"}


class DirectoryListingError(Exception):
    """Directory buckets could not be listed; str() is the one sentence the
    scan tells (a note: the general purpose buckets are scanned all the same)."""


def is_directory_bucket(name: str) -> bool:
    """S3 reserves the suffix for directory buckets (NAME--ZONE-ID--x-s3),
    as botocore's is_s3express_bucket tells them apart."""
    return name.endswith("--x-s3")


def list_directory_buckets(client: Any, page_size: int = PAGE_SIZE) -> list[tuple[str, str]]:
    """(name, region) of every directory bucket the client's region lists,
    following ContinuationToken."""
    out: list[tuple[str, str]] = []
    token = ""
    region = str(client.meta.region_name or "")
    while True:
        args: dict[str, Any] = {"MaxDirectoryBuckets": page_size}
        if token:
            args["ContinuationToken"] = token
        try:
            resp = client.list_directory_buckets(**args)
        except ClientError as exc:
            code = error_code(exc)
            if code in ("AccessDenied", "403"):
                raise DirectoryListingError(DENIED) from exc
            if code in _UNSUPPORTED_CODES:
                raise DirectoryListingError(UNSUPPORTED) from exc
            raise
        names = [(str(b["Name"]), str(b.get("BucketRegion") or region))
                 for b in resp.get("Buckets", [])]
        if any(not is_directory_bucket(name) for name, _ in names):
            raise DirectoryListingError(UNSUPPORTED)  # it answered ListBuckets instead
        out.extend(names)
        next_token = resp.get("ContinuationToken") or ""
        if not next_token or next_token == token:
            return out
        token = next_token


def regions_to_ask(endpoint_url: str | None, wanted: set[str] | None,
                   own_region: str | None) -> list[str | None]:
    """The regions whose control endpoint is asked: AWS's S3 Express
    regions (or those the scan is limited to); an endpoint URL is one store,
    asked once in the account's region (None: the client's default)."""
    if endpoint_url:
        return [own_region]
    regions: list[str | None] = [*(sorted(wanted) if wanted else EXPRESS_REGIONS)]
    return regions


def quiet_failure(exc: BaseException) -> bool:
    """A region that cannot be reached (no S3 Express there, or not enabled
    for the account) has no directory buckets to tell about."""
    return isinstance(exc, BotoCoreError)
