"""Whether a local file is the same as the object stored under its key, so
its upload can be skipped (local only, never the network; the lookup of
what is stored is mpugui.core.transfer.existing).

`is_unchanged` decides from the size, what this app's journal recorded for
an earlier upload, and the object's ETag (a plain MD5, or a multipart ETag
recomputed with the plans this app and other tools would have used). A file
is skipped only when it is shown to be the same: anything that cannot be
shown (an opaque SSE-KMS ETag, a multipart ETag cut in an unknown way, a
file that cannot be read) means "upload it": re-sending a file costs time,
skipping a changed one loses data.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from mpugui.core.s3.checksums import clean_etag, is_md5_etag
from mpugui.core.s3.plan import (
    DEFAULT_PART_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    TAPER_V1,
    PlanError,
    make_plan,
)
from mpugui.core.sources import Identity
from mpugui.core.transfer.existing import RemoteObject
from mpugui.core.units import MiB

# Common part sizes of other tools, tried when a multipart ETag's part count
# fits: rclone 5 MiB, aws cli / boto3 8 MiB, s3cmd 15 MiB, mpugui 16 MiB,
# and a few round ones people set by hand.
OTHER_PART_SIZES = tuple(n * MiB for n in (5, 8, 15, 16, 32, 64, 100, 128, 256, 512))

_MULTIPART_ETAG = re.compile(r"^([0-9a-f]{32})-(\d+)$")
_CHUNK = 1 * MiB


@dataclass(frozen=True)
class Recorded:
    """What this app's journal knows about an earlier finished upload of
    this exact source file to this key (looked up by the caller)."""

    etag: str
    size: int
    mtime_ns: int
    sample: str  # Identity.sample of the file at that upload

    def matches(self, identity: Identity) -> bool:
        return (self.size, self.mtime_ns, self.sample) == \
            (identity.size, identity.mtime_ns, identity.sample)


def is_unchanged(path: str, identity: Identity, remote: RemoteObject | None,
                 recorded: Recorded | None = None, part_size: int | None = None,
                 taper: int = TAPER_V1, *, hash_limit: int | None = None) -> bool:
    """Whether the local file at `path` (with `identity`, taken by the
    caller) is the object `remote` already stored, so its upload can be
    skipped. Reads the file at most once; never calls the network, but may
    hash the whole file: call it off the GUI thread.

    In order:
    1. no object, or the sizes differ: changed;
    2. the journal `recorded` an upload whose ETag is the object's and the
       file's identity (size, mtime, sampled hash) is the recorded one:
       unchanged, without reading the file;
    3. a plain-MD5 ETag (a single PutObject without SSE-KMS): the file's MD5
       must equal it;
    4. a multipart ETag (md5-of-part-md5s '-N'): recomputed over the cuts
       this app would have made with `part_size` (None: the default), with
       and without the taper, and the equal cuts other tools make (their
       usual part sizes, and N parts of size/N rounded up to a MiB); only
       cuts with N parts are hashed, all in one pass over the file;
    5. anything else (SSE-KMS/SSE-C ETags, other stores' opaque ETags, no
       cut that matches, the file unreadable): changed.

    Hashing has no size limit by default: MD5 runs at ~600 MB/s here (2
    cores), faster than a disk and several times any upload link, so reading
    a file to find it unchanged costs a fraction of sending it, and a
    changed file of the very same size (the only case that pays for both)
    is rare. `hash_limit` (bytes) lets a caller refuse to hash larger files;
    they then count as changed.
    """
    if remote is None or identity.size != remote.size:
        return False
    etag = clean_etag(remote.etag)
    if recorded is not None and clean_etag(recorded.etag) == etag and recorded.matches(identity):
        return True
    if hash_limit is not None and identity.size > hash_limit:
        return False
    try:
        if is_md5_etag(etag):
            return _file_md5(path) == etag
        match = _MULTIPART_ETAG.match(etag)
        if match:
            cuts = candidate_cuts(identity.size, int(match.group(2)), part_size, taper)
            return bool(cuts) and etag in _multipart_etags(path, cuts)
    except OSError:
        return False  # cannot be read now: let the upload say why
    return False


def candidate_cuts(size: int, parts: int, part_size: int | None = None,
                   taper: int = TAPER_V1) -> list[tuple[int, ...]]:
    """Part boundaries (0, end of part 1, …, size) that cut `size` bytes into
    exactly `parts` parts: mpugui's plans first, then other tools' equal cuts."""
    if parts < 1 or parts > MAX_PARTS or size < parts:
        return []
    cuts: list[tuple[int, ...]] = []

    def add(bounds: tuple[int, ...]) -> None:
        if len(bounds) == parts + 1 and bounds not in cuts:
            cuts.append(bounds)

    for t in dict.fromkeys((taper, 0, TAPER_V1)):
        try:
            plan = make_plan(size, part_size or DEFAULT_PART_SIZE, threshold=1, taper=t)
        except PlanError:
            continue
        if plan.multipart and plan.part_count == parts:
            add((0, *(p.offset + p.size for p in plan.parts())))
    even = -(-size // parts)
    for p in (*OTHER_PART_SIZES, -(-even // MiB) * MiB, even):
        if p <= 0 or p > MAX_PART_SIZE or -(-size // p) != parts:
            continue
        add((*range(0, size, p), size))
    return cuts


def _file_md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _multipart_etags(path: str, cuts: list[tuple[int, ...]]) -> set[str]:
    """The multipart ETag of the file for each cut, in one read of the file."""
    nexts = [1] * len(cuts)  # per cut: the boundary the current part ends at
    hashers = [hashlib.md5() for _ in cuts]
    digests: list[list[bytes]] = [[] for _ in cuts]
    pos = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            view = memoryview(chunk)
            end_pos = pos + len(chunk)
            for i, bounds in enumerate(cuts):
                start = 0
                while nexts[i] < len(bounds) and bounds[nexts[i]] <= end_pos:
                    stop = bounds[nexts[i]] - pos
                    hashers[i].update(view[start:stop])
                    digests[i].append(hashers[i].digest())
                    hashers[i] = hashlib.md5()
                    nexts[i] += 1
                    start = stop
                hashers[i].update(view[start:])
            pos = end_pos
    etags = set()
    for i, bounds in enumerate(cuts):
        if pos == bounds[-1] and len(digests[i]) == len(bounds) - 1:
            joined = b"".join(digests[i])
            etags.add(f"{hashlib.md5(joined).hexdigest()}-{len(digests[i])}")
    return etags


def skipped_sentence(skipped: int, total: int) -> str:
    """What to tell the user, e.g. '10,000 unchanged, skipped' or
    '3 to upload, 9,997 unchanged, skipped'."""
    if skipped >= total:
        return f"{skipped:,} unchanged, skipped"
    return f"{total - skipped:,} to upload, {skipped:,} unchanged, skipped"
