"""Adopting an in-progress upload: check the local file against the parts
already on the server (sizes, then each part's checksum or MD5), find the
plan that cut it, and make the journal record that continues it."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mpugui.core.errors import describe
from mpugui.core.inventory.errors import InventoryError
from mpugui.core.inventory.listing import PAGE_SIZE, PartInfo, Upload, list_upload_parts
from mpugui.core.journal.store import TransferRecord
from mpugui.core.s3.checksums import clean_etag, is_md5_etag
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.s3.plan import (
    DEFAULT_PART_SIZE,
    MIN_PART_SIZE,
    TAPER_V1,
    Plan,
    PlanError,
    make_plan,
)
from mpugui.core.sources import identity
from mpugui.core.states import PAUSED
from mpugui.core.units import format_bytes

try:
    from awscrt import checksums as _crt
except ImportError:  # pragma: no cover - depends on the platform
    _crt = None  # type: ignore[assignment]  # the module or None, tested before use


class AdoptRefused(InventoryError):
    """The local file cannot continue this upload; the message says why."""


_S3_TO_ALGORITHM = {"CRC32": "crc32", "CRC32C": "crc32c", "SHA256": "sha256"}


@dataclass(frozen=True)
class Mismatch:
    number: int
    reason: str  # a sentence


@dataclass
class Progress:
    """Counters a worker bumps and a timer reads (no signal per chunk)."""

    total: int = 0
    done: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class AdoptCheck:
    upload: Upload
    path: str
    file_size: int
    part_size: int
    part_count: int
    checksum: str  # the engine's algorithm name for the parts still to send
    parts: list[PartInfo]
    taper: int = 0  # the plan's taper: the upload is ours, cut with smaller final parts
    verified: list[int] = field(default_factory=list)
    unverifiable: list[int] = field(default_factory=list)  # will be sent again
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def missing(self) -> list[int]:
        have = set(self.verified)
        return [n for n in range(1, self.part_count + 1) if n not in have]

    def summary(self) -> str:
        if not self.ok:
            return (f"{len(self.mismatches)} of {len(self.parts)} uploaded parts do not match "
                    f"'{self.path}'; nothing was completed.")
        each = "up to " if self.taper else ""
        return (f"{len(self.verified)} of {self.part_count} parts match the file "
                f"({each}{format_bytes(self.part_size)} each); {len(self.missing)} will be sent.")


def engine_checksum(upload: Upload) -> str:
    """The per-part checksum the engine must send to continue this upload."""
    if upload.checksum_type == "FULL_OBJECT":
        raise AdoptRefused(f"The upload of {upload.uri} uses a full-object checksum, which "
                           "this app cannot complete; finish it with the program that started "
                           "it, or abort it.")
    algo = upload.checksum_algorithm
    if not algo:
        return "md5"  # the upload needs no checksum; Content-MD5 still guards each part
    if algo.upper() not in _S3_TO_ALGORITHM:
        raise AdoptRefused(f"The upload of {upload.uri} uses {algo} part checksums, which this "
                           "app cannot send; finish it with the program that started it, "
                           "or abort it.")
    return _S3_TO_ALGORITHM[algo.upper()]


def infer_part_size(parts: list[PartInfo], file_size: int) -> int:
    """The part size the existing parts were cut with; AdoptRefused when the
    listed sizes cannot come from one file of `file_size` bytes."""
    if not parts:
        return make_plan(file_size, threshold=0).part_size
    ordered = sorted(parts, key=lambda p: p.number)
    last = ordered[-1]
    body = ordered[:-1]
    sizes = {p.size for p in body}
    if len(sizes) > 1:
        raise AdoptRefused("The uploaded parts have different sizes ("
                           + ", ".join(format_bytes(s) for s in sorted(sizes))
                           + "); only the last part may be smaller, so this is not one file "
                             "cut into equal parts.")
    if sizes:
        size = sizes.pop()
        if last.size > size:
            raise AdoptRefused(f"Part {last.number} ({format_bytes(last.size)}) is larger than "
                               f"the parts before it ({format_bytes(size)}).")
        return size
    # One listed part: it is either a full part, or the file's short last part.
    if last.number == 1 or last.number * last.size <= file_size:
        return last.size
    rest = file_size - last.size
    if rest > 0 and rest % (last.number - 1) == 0 and rest // (last.number - 1) >= last.size:
        return rest // (last.number - 1)
    return last.size  # no cut of this file fits: the size check reports the mismatch


def _hasher(s3_name: str | None) -> tuple[Callable[[bytes | memoryview], None],
                                          Callable[[], str]]:
    """Incremental checksum for a part of any size: update, then base64."""
    if s3_name in ("SHA256", "SHA1"):
        h = hashlib.new(s3_name.lower())
        return h.update, lambda: base64.b64encode(h.digest()).decode()
    state = {"v": 0}
    if s3_name == "CRC32":
        def update(data: bytes | memoryview) -> None:
            state["v"] = zlib.crc32(data, state["v"])
        width = 4
    elif s3_name in ("CRC32C", "CRC64NVME") and _crt is not None:
        fn = _crt.crc32c if s3_name == "CRC32C" else _crt.crc64nvme

        def update(data: bytes | memoryview) -> None:
            # awscrt reads any buffer; its stubs say bytes.
            state["v"] = fn(data, state["v"])  # type: ignore[arg-type]
        width = 4 if s3_name == "CRC32C" else 8
    else:
        raise ValueError(s3_name)
    return update, lambda: base64.b64encode(state["v"].to_bytes(width, "big")).decode()


def _verify_part(fd: int, part: PartInfo, offset: int, progress: Progress) -> str | None:
    """None when the part holds the local bytes at `offset`; 'unverifiable'
    when neither an MD5 ETag nor a checksum we can compute is listed; else a
    sentence saying what differs."""
    use_md5 = is_md5_etag(part.etag)
    update: Callable[[bytes], None]
    final: Callable[[], str]
    if use_md5:
        md5 = hashlib.md5()
        update, final = md5.update, md5.hexdigest
    else:
        try:
            if not part.checksum:
                raise ValueError(part.checksum_algorithm)
            update, final = _hasher(part.checksum_algorithm)
        except ValueError:
            progress.done += part.size
            return "unverifiable"
    left, pos = part.size, offset
    while left:
        if progress.cancel.is_set():
            raise InventoryError("The verification was cancelled.")
        chunk = os.pread(fd, min(left, 8 * 1024 * 1024), pos)
        if not chunk:
            return f"Part {part.number} reaches past the end of the file."
        update(chunk)
        left -= len(chunk)
        pos += len(chunk)
        progress.done += len(chunk)
    ours = final()
    if use_md5:
        if ours != clean_etag(part.etag):
            return (f"Part {part.number} (bytes {offset:,}–{offset + part.size - 1:,}) differs "
                    f"from the file: the server's MD5 is {clean_etag(part.etag)}, "
                    f"the file's is {ours}.")
    elif ours != part.checksum:
        return (f"Part {part.number} (bytes {offset:,}–{offset + part.size - 1:,}) differs from "
                f"the file: the server's {part.checksum_algorithm} is {part.checksum}, "
                f"the file's is {ours}.")
    return None


def _equal_parts_plan(parts: list[PartInfo], file_size: int, path: str) -> Plan:
    part_size = infer_part_size(parts, file_size)
    if part_size < MIN_PART_SIZE:
        if file_size > part_size:
            raise AdoptRefused(
                f"The uploaded parts are {format_bytes(part_size)} each; S3 accepts parts "
                f"under {format_bytes(MIN_PART_SIZE)} only as the last part, so this upload "
                "can never be completed. Abort it instead.")
        raise AdoptRefused(
            f"The upload holds a single part of {format_bytes(part_size)}; this app continues "
            f"uploads cut into parts of at least {format_bytes(MIN_PART_SIZE)}. Upload the file "
            "again and abort this upload.")
    try:
        plan = make_plan(file_size, max(part_size, MIN_PART_SIZE), threshold=0)
    except PlanError as exc:
        raise AdoptRefused(str(exc)) from exc
    if plan.part_size != part_size:
        raise AdoptRefused(f"'{path}' ({format_bytes(file_size)}) would need more than 10,000 "
                           f"parts of {format_bytes(part_size)}; it cannot be the file this "
                           "upload was started with.")
    return plan


def _sizes_fit(plan: Plan, parts: list[PartInfo]) -> bool:
    return all(p.number <= plan.part_count and plan.part(p.number).size == p.size
               for p in parts)


def fit_plan(parts: list[PartInfo], file_size: int, path: str) -> Plan:
    """The cut of the file that the listed parts come from: equal parts (what
    most tools make, and what every store accepts) when they fit, else this
    app's tapered cut (an upload of ours whose journal is gone). AdoptRefused
    when neither fits; size mismatches of the equal cut are reported part by
    part by the caller."""
    refusal: AdoptRefused | None = None
    try:
        plan = _equal_parts_plan(parts, file_size, path)
        if _sizes_fit(plan, parts):
            return plan
    except AdoptRefused as exc:
        refusal = exc
    for size in dict.fromkeys((max((p.size for p in parts), default=0), DEFAULT_PART_SIZE)):
        try:
            tapered = make_plan(file_size, size, threshold=0, taper=TAPER_V1)
            equal = make_plan(file_size, size, threshold=0)
        except PlanError:
            continue
        if tapered.taper and tapered.parts() != equal.parts() and _sizes_fit(tapered, parts):
            return tapered
    sizes = [p.size for p in sorted(parts, key=lambda p: p.number)]
    if refusal is not None and len(set(sizes)) > 1 and all(
            a >= b for a, b in itertools.pairwise(sizes)):
        # Parts that only shrink are a tapered cut like ours, of a file of
        # another size: say the file does not fit, not that the cut is odd.
        raise AdoptRefused(
            f"'{os.path.basename(path)}' ({format_bytes(file_size)}) does not fit this upload: "
            f"its {len(parts):,} parts ({format_bytes(sum(sizes))} so far, "
            f"{format_bytes(sizes[0])} down to {format_bytes(sizes[-1])}) were cut from a file "
            "of another size. Choose the file the upload was started with.") from None
    if refusal is not None:
        raise refusal
    return plan


def check_adoption(client: Any, upload: Upload, path: str, *, progress: Progress | None = None,
                   parts: list[PartInfo] | None = None,
                   max_parts: int = PAGE_SIZE) -> AdoptCheck:
    """Whether `path` can continue `upload`: the listed part sizes must fit
    one cut of the file, and every uploaded part must hold the file's bytes
    at its position (MD5 vs ETag, or the listed part checksum). Raises
    AdoptRefused when the sizes cannot fit; mismatches are listed part by part
    in the result."""
    progress = progress or Progress()
    checksum = engine_checksum(upload)
    if parts is None:
        parts = list_upload_parts(client, upload.bucket, upload.key, upload.upload_id,
                                  max_parts=max_parts)
    try:
        file_size = os.stat(path).st_size
    except OSError as exc:
        raise AdoptRefused(describe(exc)) from exc
    if file_size == 0:
        raise AdoptRefused(f"'{path}' is empty; an upload in parts needs at least one byte.")
    plan = fit_plan(parts, file_size, path)
    part_size = plan.part_size
    check = AdoptCheck(upload, path, file_size, part_size, plan.part_count, checksum, parts,
                       taper=plan.taper)
    beyond = [p for p in parts if p.number > plan.part_count]
    for p in beyond:
        check.mismatches.append(Mismatch(p.number, f"Part {p.number} lies beyond the end of "
                                         f"the file ({plan.part_count} parts of "
                                         f"{format_bytes(part_size)})."))
    fitting = [p for p in parts if p.number <= plan.part_count]
    for p in fitting:
        expected = plan.part(p.number).size
        if p.size != expected:
            check.mismatches.append(Mismatch(p.number, f"Part {p.number} holds {p.size:,} "
                                             f"bytes; the file has {expected:,} bytes there."))
    if check.mismatches:
        check.mismatches.sort(key=lambda m: m.number)
        return check
    progress.total = sum(p.size for p in fitting)
    progress.done = 0
    with open(path, "rb") as f:
        for p in fitting:
            verdict = _verify_part(f.fileno(), p, plan.part(p.number).offset, progress)
            if verdict is None:
                check.verified.append(p.number)
            elif verdict == "unverifiable":
                check.unverifiable.append(p.number)
            else:
                check.mismatches.append(Mismatch(p.number, verdict))
    return check


def adoption_record(check: AdoptCheck, endpoint: Endpoint) -> TransferRecord:
    """The journal row that makes the engine continue the upload: its
    reconcile step keeps the server's parts whose MD5 matches the file and
    sends the rest, then completes and verifies."""
    if not check.ok:
        raise AdoptRefused(check.summary())
    ident = identity(check.path)
    if ident.size != check.file_size:
        raise AdoptRefused(f"'{check.path}' changed size during the verification.")
    up = check.upload
    return TransferRecord(
        source=os.path.abspath(check.path), bucket=up.bucket, key=up.key, endpoint=endpoint,
        size=ident.size, mtime_ns=ident.mtime_ns, sample=ident.sample,
        part_size=check.part_size, multipart=True, taper=check.taper, checksum=check.checksum,
        storage_class=up.storage_class if up.storage_class != "STANDARD" else None,
        upload_id=up.upload_id, state=PAUSED)
