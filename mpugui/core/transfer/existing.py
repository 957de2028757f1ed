"""Which destination objects exist already (network, Qt-free): what is
stored under each key, for skipping what is already there (whether a file
is the same as its object is mpugui.core.transfer.unchanged).

`existing_objects` answers for a known list of keys, `RemoteListing` for a
caller that walks a folder lazily and asks key by key, from any thread.
Either lists the prefix once with ListObjectsV2 or sends a HeadObject per
key, whichever costs less. A key that could not be looked up counts as
absent: its file is uploaded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mpugui.core.errors import MpuguiError, describe, error_code

# ListObjectsV2 returns at most 1000 keys a page (S3's and moto's maximum).
LIST_PAGE = 1000

# How many HeadObject requests one full ListObjectsV2 page costs, in wall
# time; below this many keys a HEAD per key is used, above it the prefix is
# listed (with a budget, see RemoteListing.max_pages).
#
# Measured here (2 cores, moto 5.2.5 ThreadedMotoServer on 127.0.0.1,
# medians): HeadObject 9-13 ms; ListObjectsV2 of a full 1000-key page
# 600-800 ms, of which 170-180 ms is botocore parsing the 240 KB of XML on
# the client (timed on its own) and most of the rest moto's Python listing
# (MaxKeys=1 on the same prefix: 12-24 ms). So against moto a page is ~60
# HEADs. Against S3 the client-side parse is the same 175 ms, the server
# lists a page in roughly 100 ms, and a HEAD is one round trip (20-50 ms from
# a desktop): a page is ~6-15 HEADs. 10 is taken, the S3 side, since that is
# where it matters: under 10 keys a few HEADs answer in well under a second
# whatever the prefix holds; from 10 keys on, listing wins as soon as the
# prefix holds mostly the keys wanted (a re-dropped folder: 10,000 keys are
# 10 pages, ~3 s, instead of 10,000 HEADs, ~5 min one at a time), and the
# page budget bounds the loss when the prefix holds many other objects.
HEAD_LIMIT = 10

_MISSING_CODES = ("404", "NoSuchKey", "NotFound")
_DENIED_CODES = ("AccessDenied", "403", "Forbidden")


@dataclass(frozen=True)
class RemoteObject:
    """What the destination says about one key."""

    size: int
    etag: str  # as the server sent it; compare through clean_etag


class Found(dict[str, RemoteObject]):
    """existing_objects' answer: the keys that exist, and `note`, a sentence
    for the user when the lookup was degraded (None when it was not)."""

    note: str | None = None


def common_prefix(keys: Iterable[str]) -> str:
    """The longest string every key starts with ('' for no keys)."""
    items = list(keys)
    if not items:
        return ""
    first, last = min(items), max(items)  # any shared prefix is theirs too
    n = 0
    while n < len(first) and n < len(last) and first[n] == last[n]:
        n += 1
    return first[:n]


def existing_objects(client: Any, bucket: str, keys: Sequence[str],
                     prefix: str = "") -> Found:
    """The objects that exist among `keys` in `bucket`.

    Up to HEAD_LIMIT keys: a HeadObject each. More: ListObjectsV2 over the
    keys' common prefix (at least `prefix`, the destination prefix), paged,
    for at most len(keys) // HEAD_LIMIT pages (what HEADs for every key would
    have cost); keys past the point the listing reached are then HEADed.
    Errors are as for RemoteListing. The answer is a `Found` (a dict) whose
    `note` carries RemoteListing.note.
    """
    wanted = list(dict.fromkeys(keys))
    found = Found()
    if not wanted:
        return found
    if prefix and not all(k.startswith(prefix) for k in wanted):
        raise ValueError(f"Every key must start with the prefix '{prefix}'.")
    narrowed = common_prefix(wanted)
    if len(wanted) <= HEAD_LIMIT:
        listing = RemoteListing(client, bucket, narrowed, max_pages=0)
    else:
        listing = RemoteListing(client, bucket, narrowed,
                                max_pages=max(1, len(wanted) // HEAD_LIMIT))
    for key in wanted:
        obj = listing.get(key)
        if obj is not None:
            found[key] = obj
    found.note = listing.note
    return found


class RemoteListing:
    """The objects under `prefix` in `bucket`, listed once, on the first
    `get`, and answered key by key; safe to share between threads (the
    first caller lists, the others wait for it).

    max_pages bounds the listing (None: the whole prefix; 0: no listing, a
    HeadObject per key). When the listing stops early, keys at or before
    the last one listed are answered from it (ListObjectsV2 returns keys in
    UTF-8 byte order, which is Python's str order), later ones by HeadObject.

    Errors, decided so:
    - NoSuchBucket (listing, or a HEAD answered 404 and HeadBucket agrees):
      MpuguiError with the sentence "The bucket '…' does not exist.".
    - AccessDenied on ListObjectsV2 (a policy without s3:ListBucket): fall
      back to a HeadObject per key rather than upload everything. A HEAD is
      a small request with no body, never more requests than the uploads it
      may save (each upload is at least one PUT), and costs no bytes. `note`
      then says so.
    - AccessDenied on a HeadObject: that key counts as absent, so it is
      uploaded (without s3:ListBucket S3 answers 403, not 404, for a missing
      key, so 403 cannot tell "missing" from "hidden"). When every key asked
      is denied, `note` says that nothing could be checked and everything
      is uploaded.
    - Anything else (network, throttling after botocore's retries) is
      raised as is; errors.describe() turns it into a sentence.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "",
                 max_pages: int | None = None) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.max_pages = max_pages
        self._lock = threading.Lock()
        self._listed = False
        self._error: Exception | None = None
        self._objects: dict[str, RemoteObject] = {}
        self._complete = False  # the listing reached the end of the prefix
        self._last = ""  # the last key listed, when it stopped early
        self._list_denied = False
        self._bucket_checked = False
        self._asked = 0  # HEADs sent
        self._denied = 0  # HEADs answered 403
        self.pages = 0  # ListObjectsV2 requests sent
        self.heads = 0  # HeadObject requests sent

    # -- the answers
    def get(self, key: str) -> RemoteObject | None:
        """The object stored under `key`, or None when there is none (or it
        cannot be seen: see the class's note on AccessDenied)."""
        self._ensure_listed()
        if self._complete and key.startswith(self.prefix):
            return self._objects.get(key)
        if key.startswith(self.prefix) and self._last and key <= self._last:
            return self._objects.get(key)
        return self._head(key)

    @property
    def note(self) -> str | None:
        """A sentence for the user when the check was degraded, else None."""
        with self._lock:
            where = f"s3://{self.bucket}/{self.prefix}"
            if self._asked and self._denied == self._asked:
                return (f"Existing files in {where} cannot be checked (access denied), "
                        "so everything is uploaded.")
            parts = []
            if self._list_denied:
                parts.append(f"This account may not list {where}, so each file was "
                             "checked with its own request.")
            if self._denied:
                parts.append(f"{self._denied:,} file{'s' if self._denied != 1 else ''} "
                             "could not be checked (access denied) and will be uploaded.")
            return " ".join(parts) or None

    # -- listing
    def _ensure_listed(self) -> None:
        with self._lock:
            if not self._listed:
                try:
                    self._list()
                except Exception as exc:  # every later get() raises it too
                    self._error = exc
                self._listed = True
            if self._error is not None:
                raise self._error

    def _list(self) -> None:
        if self.max_pages == 0:
            return
        token: str | None = None
        while True:
            if self.max_pages is not None and self.pages >= self.max_pages:
                return  # budget spent: later keys are HEADed
            args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix,
                                    "MaxKeys": LIST_PAGE}
            if token:
                args["ContinuationToken"] = token
            try:
                page = self.client.list_objects_v2(**args)
            except ClientError as exc:
                code = error_code(exc) or ""
                if code == "NoSuchBucket":
                    raise MpuguiError(describe(exc, bucket=self.bucket)) from exc
                if code in _DENIED_CODES and self.pages == 0:
                    self._list_denied = True
                    return
                raise
            self.pages += 1
            for item in page.get("Contents", ()):
                self._objects[item["Key"]] = RemoteObject(int(item["Size"]),
                                                          str(item.get("ETag", "")))
                self._last = max(self._last, item["Key"])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                self._complete = True
                return

    # -- one key
    def _head(self, key: str) -> RemoteObject | None:
        with self._lock:
            self._asked += 1
            self.heads += 1
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            code = error_code(exc) or ""
            if code == "NoSuchBucket":
                raise MpuguiError(describe(exc, bucket=self.bucket)) from exc
            if code in _MISSING_CODES:
                self._check_bucket()
                return None
            if code in _DENIED_CODES:
                with self._lock:
                    self._denied += 1
                return None
            raise
        return RemoteObject(int(head["ContentLength"]), str(head.get("ETag", "")))

    def _check_bucket(self) -> None:
        """A HEAD's 404 has no body: a missing key and a missing bucket look
        the same. Ask the bucket once (only when nothing was listed, since a
        listing already proves the bucket)."""
        with self._lock:
            if self._bucket_checked or self.pages:
                return
            self._bucket_checked = True
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if (error_code(exc) or "") in ("404", "NoSuchBucket", "NotFound"):
                raise MpuguiError(f"The bucket '{self.bucket}' does not exist.") from exc
            # 403 and others: the bucket is there (or we cannot tell); the key is not.
