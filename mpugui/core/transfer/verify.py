"""What shows a stored object is the local file, from what the server guarantees.

Stores differ in what their answers prove. Size is always comparable. A
composite checksum ("...-N") is the checksum of our part checksums. AWS's
multipart ETag (md5 of the part MD5s + "-N") proves the object is exactly our
parts, but only where ETags are MD5s: under SSE-KMS/SSE-C they are not, and
s3rver labels a multipart object with the whole file's MD5 instead. So each
piece of evidence is used only where it means something; an ETag that cannot
be interpreted is reported as such, never held against a correct object.

Evidence is recorded as tokens (the journal's `evidence` column) and shown as
a sentence (`describe`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mpugui.core.errors import MpuguiError
from mpugui.core.journal.store import PartRecord, TransferRecord
from mpugui.core.s3.checksums import Algorithm, clean_etag, is_md5_etag, multipart_etag
from mpugui.core.s3.encryption import BUCKETS, hides_md5, object_hides_md5
from mpugui.core.units import MiB

log = logging.getLogger("mpugui.s3")

SIZE = "size"
MULTIPART_ETAG = "multipart-etag"  # AWS form, recomputed from our part ETags
MD5_ETAG = "md5-etag"  # a plain-MD5 ETag equal to the file's (or the part's) MD5
ETAG_UNVERIFIABLE = "etag-unverifiable"  # the ETag proves nothing here (said, not failed)
COMPOSITE = "composite-"  # + algorithm, e.g. composite-crc32c
SENT = "sent-"  # + algorithm: the part or body went with this checksum header

# Re-reading a file to compare its MD5 with a plain ETag costs ~1.2 s/GiB of
# CPU (design notes); up to this size that is a small price for real evidence.
CHEAP_MD5_LIMIT = 64 * MiB

_AWS_MULTIPART = re.compile(r"^[0-9a-f]{32}-\d+$")
_STRONG = (MULTIPART_ETAG, MD5_ETAG, COMPOSITE)


class VerificationFailed(MpuguiError):
    pass


@dataclass(frozen=True)
class Verdict:
    """The evidence that verified one object, in the order it was checked."""

    evidence: tuple[str, ...]
    note: str = ""  # why an ETag could not be used, for the log and the tooltip

    @property
    def tokens(self) -> str:
        """The journal's form: tokens joined by commas (interned: 100,000
        files verified alike share one string)."""
        return sys.intern(",".join(self.evidence))

    @property
    def proves_content(self) -> bool:
        """More than the size: the bytes themselves were shown to be ours."""
        return any(e.startswith(_STRONG) for e in self.evidence)

    def __str__(self) -> str:
        return sys.intern(describe(self.evidence, self.note))


_WORDS = {SIZE: "size", MULTIPART_ETAG: "multipart ETag", MD5_ETAG: "MD5 ETag"}


def describe(evidence: Iterable[str], note: str = "") -> str:
    """'size + composite CRC32C + multipart ETag', or with an unusable ETag
    'size; not verifiable by ETag (the object is KMS-encrypted)'."""
    shown, unverifiable = [], False
    for token in evidence:
        if token == ETAG_UNVERIFIABLE:
            unverifiable = True
        elif token in _WORDS:
            shown.append(_WORDS[token])
        elif token.startswith(COMPOSITE):
            shown.append(f"composite {token[len(COMPOSITE):].upper()}")
        elif token.startswith(SENT):
            shown.append(f"{token[len(SENT):].upper()} sent")
        else:
            shown.append(token)
    text = " + ".join(shown) or "nothing"
    if unverifiable:
        text += "; not verifiable by ETag" + (f" ({note})" if note else "")
    return text


def parse(tokens: str | None) -> tuple[str, ...]:
    return tuple(t for t in (tokens or "").split(",") if t)


def file_md5(path: str, size: int) -> str | None:
    """The file's MD5 when that is cheap (CHEAP_MD5_LIMIT), else None."""
    if size > CHEAP_MD5_LIMIT:
        return None
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def verify_object(rec: TransferRecord, parts: list[PartRecord], algo: Algorithm,
                  head: dict[str, Any] | None,
                  local_md5: Callable[[], str | None] | None = None,
                  bucket_hides_md5: Callable[[], bool] | None = None) -> Verdict:
    """Check a completed multipart object (its HEAD) against our parts.

    Fails only on evidence that the object is not ours: a wrong size, a
    composite checksum that differs, an ETag in a form whose meaning is known
    (AWS's multipart form, a plain MD5) that differs while nothing says the
    ETag is not an MD5 here (KMS/C encryption on the object or the bucket).
    """
    if head is None:
        raise VerificationFailed(f"{rec.uri} is missing right after it was completed.")
    if int(head["ContentLength"]) != rec.size:
        raise VerificationFailed(
            f"{rec.uri} holds {head['ContentLength']:,} bytes; the file has {rec.size:,}.")
    evidence = [SIZE]
    evidence += _checksum_evidence(rec, parts, algo, head)
    encrypted = object_hides_md5(head)

    def etag_is_opaque() -> bool:  # asked only when an ETag disagrees
        return encrypted or bool(bucket_hides_md5 and bucket_hides_md5())

    stored = clean_etag(str(head.get("ETag", "")))
    note = ""
    if _AWS_MULTIPART.match(stored):
        expected = multipart_etag([p.etag for p in parts])
        if expected is not None and stored == expected:
            evidence.append(MULTIPART_ETAG)
        elif expected is None or etag_is_opaque():
            note = ("the object is encrypted with KMS or a customer key" if etag_is_opaque()
                    else "the part ETags are not MD5s")
        else:
            raise VerificationFailed(
                f"{rec.uri} has ETag {stored}; the uploaded parts give {expected}.")
    elif is_md5_etag(stored):
        md5 = local_md5() if local_md5 else None
        if md5 is None:
            note = (f"the server gives a plain MD5, and the file is larger than "
                    f"{CHEAP_MD5_LIMIT // MiB} MiB to hash again")
        elif stored == md5:
            evidence.append(MD5_ETAG)  # s3rver: the whole file's MD5
        elif etag_is_opaque():
            note = "the object is encrypted with KMS or a customer key"
        else:
            raise VerificationFailed(f"{rec.uri} has ETag {stored}; the file's MD5 is {md5}.")
    else:
        note = f"the server's ETag {stored or '(none)'} has no known form"
    if note:
        evidence.append(ETAG_UNVERIFIABLE)
        log.info("%s: not verifiable by ETag (%s)", rec.uri, note)
    return Verdict(tuple(evidence), note)


def _checksum_evidence(rec: TransferRecord, parts: list[PartRecord], algo: Algorithm,
                       head: dict[str, Any]) -> list[str]:
    """A composite checksum the server returns must be ours. A full-object
    CRC of a multipart object would need the CRCs combined (not done here):
    it is left out, not trusted."""
    if not algo.s3_name:
        return []
    theirs = head.get(f"Checksum{algo.s3_name}")
    if not theirs or "-" not in str(theirs):
        return []
    ours = algo.composite([p.checksum or "" for p in parts])
    if theirs != ours:
        raise VerificationFailed(f"{rec.uri} has {algo.name} {theirs}; the parts give {ours}.")
    return [f"{COMPOSITE}{algo.name}"]


def check_md5_etag(etag: str, content_md5: str | None, sse: str | None,
                   bucket_hides_md5: Callable[[], bool] | None = None) -> bool:
    """With `--checksum md5`: does the ETag S3 answered for a part or a small
    PUT show the bytes we sent? True when it equals the MD5 we sent as
    Content-MD5 (so the MD5 ETag is evidence); False when the ETag is not an
    MD5 here (KMS/C: the server checked Content-MD5 on arrival instead, and
    refuses a bad body); raises when it is an MD5 and differs."""
    if content_md5 is None:
        return False
    sent = base64.b64decode(content_md5).hex()
    if not is_md5_etag(etag) or hides_md5(sse):
        return False
    if clean_etag(etag) == sent:
        return True
    if bucket_hides_md5 is not None and bucket_hides_md5():
        return False
    raise MpuguiError("stored with a different MD5 than was sent.")


def put_verdict(client: Any, rec: TransferRecord, algo: Algorithm, etag: str,
                checksum: str | None, sse: str | None = None) -> Verdict:
    """A small file's one PutObject: the server took exactly its bytes (the
    request's length), checked the checksum header we sent where it checks
    them, and with `--checksum md5` its ETag is the MD5 we sent unless ETags
    are not MD5s there (KMS/C). Raises when an MD5 ETag differs."""
    evidence = [SIZE]
    note = ""
    if algo.name == "md5":
        try:
            proven = check_md5_etag(etag, checksum, sse,
                                    lambda: BUCKETS.hides_md5(client, rec.bucket))
        except MpuguiError as exc:
            raise VerificationFailed(f"{rec.uri} was {exc}") from None
        if proven:
            evidence.append(MD5_ETAG)
        else:
            evidence.append(ETAG_UNVERIFIABLE)
            note = "the ETag is not an MD5 here; the server checked Content-MD5 on arrival"
    elif algo.s3_name:
        evidence.append(f"{SENT}{algo.name}")
    return Verdict(tuple(evidence), note)
