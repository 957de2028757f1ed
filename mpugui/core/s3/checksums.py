"""Per-part integrity checksums and the values S3 derives from them.

S3 checks a part's checksum when it arrives and refuses the part on mismatch,
so the checksum we send is what protects the bytes in flight. CRC32C runs in
hardware through awscrt and is the default; zlib's CRC32 is the fallback.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

try:  # awscrt is a dependency, but keep working where its wheel is missing
    from awscrt import checksums as _crt
except ImportError:  # pragma: no cover - depends on the platform
    _crt = None  # type: ignore[assignment]  # the module or None, tested before use


def _crc32(data: bytes | memoryview) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


def _crc32c(data: bytes | memoryview) -> bytes:
    if _crt is None:  # pragma: no cover
        raise RuntimeError("CRC32C needs the awscrt package")
    # awscrt reads any buffer; its stubs say bytes.
    return _crt.crc32c(data).to_bytes(4, "big")  # type: ignore[arg-type]


def _sha256(data: bytes | memoryview) -> bytes:
    return hashlib.sha256(data).digest()


def _md5(data: bytes | memoryview) -> bytes:
    return hashlib.md5(data).digest()


class Hasher(Protocol):
    """A checksum fed piece by piece (a part of any size, read in chunks)."""

    def update(self, data: bytes | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A CRC as a Hasher: each update continues from the value so far."""

    def __init__(self, fn: Callable[[Any, int], int], width: int) -> None:
        self._fn, self._width, self._value = fn, width, 0

    def update(self, data: bytes | memoryview, /) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


def _crt_crc(name: str, width: int) -> Callable[[], Hasher] | None:
    """awscrt's CRC `name` as a Hasher factory; None where awscrt is missing."""
    fn = getattr(_crt, name, None) if _crt is not None else None
    if fn is None:  # pragma: no cover - depends on the platform and awscrt's age
        return None
    return lambda: _Crc(fn, width)


@dataclass(frozen=True)
class Algorithm:
    name: str  # what users type: crc32c, crc32, sha256, md5, none
    s3_name: str | None  # ChecksumAlgorithm for CreateMultipartUpload/PutObject
    digest: Callable[[bytes | memoryview], bytes] | None  # one shot, for a part in memory
    new: Callable[[], Hasher] | None = None  # piece by piece (None: cannot compute here)

    @property
    def part_param(self) -> str | None:
        """The UploadPart/PutObject parameter that carries the value."""
        if self.name == "md5":
            return "ContentMD5"
        return f"Checksum{self.s3_name}" if self.s3_name else None

    def value(self, data: bytes | memoryview) -> str | None:
        """The base64 value S3 expects for `data`, or None for 'none'."""
        if self.digest is None:
            return None
        return base64.b64encode(self.digest(data)).decode("ascii")

    def header(self, value: str | None) -> tuple[str, str] | None:
        """The PutObject header that carries `value` (sent without botocore)."""
        if not value:
            return None
        if self.name == "md5":
            return ("Content-MD5", value)
        return (f"x-amz-checksum-{self.s3_name.lower()}", value) if self.s3_name else None

    def composite(self, part_values: Iterable[str]) -> str | None:
        """S3's composite checksum of a multipart object: checksum of the
        concatenated binary part checksums, then '-N'."""
        if self.s3_name is None or self.digest is None:
            return None
        raw = [base64.b64decode(v) for v in part_values]
        return f"{base64.b64encode(self.digest(b''.join(raw))).decode('ascii')}-{len(raw)}"


ALGORITHMS: dict[str, Algorithm] = {  # the ones this app sends, by the name users type
    a.name: a
    for a in (
        Algorithm("crc32c", "CRC32C", _crc32c, _crt_crc("crc32c", 4)),
        Algorithm("crc32", "CRC32", _crc32, lambda: _Crc(zlib.crc32, 4)),
        Algorithm("sha256", "SHA256", _sha256, hashlib.sha256),
        Algorithm("md5", None, _md5, hashlib.md5),
        Algorithm("none", None, None),
    )
}
# Checksums other clients may have sent with their parts: this app can check
# them (adopting an upload) but does not send them.
_VERIFY_ONLY = (Algorithm("sha1", "SHA1", None, hashlib.sha1),
                Algorithm("crc64nvme", "CRC64NVME", None, _crt_crc("crc64nvme", 8)))
_BY_S3_NAME: dict[str, Algorithm] = {
    a.s3_name: a for a in (*ALGORITHMS.values(), *_VERIFY_ONLY) if a.s3_name}


def by_s3_name(s3_name: str) -> Algorithm | None:
    """The algorithm S3 calls `s3_name` (CRC32C, SHA1 …), or None if unknown."""
    return _BY_S3_NAME.get(s3_name.upper())


def sendable(s3_name: str) -> Algorithm | None:
    """The algorithm of that S3 name when this app can send it, else None."""
    a = by_s3_name(s3_name)
    return a if a is not None and ALGORITHMS.get(a.name) is a else None


DEFAULT_ALGORITHM = "crc32c" if _crt is not None else "crc32"


def default_for(checksum_when_required: bool, configured: str = DEFAULT_ALGORITHM) -> str:
    """The checksum a transfer gets when none was chosen for it. The account's
    compatibility switch means what it says: no checksum header the store did
    not ask for (botocore then adds Content-MD5 only where S3 requires it)."""
    return "none" if checksum_when_required else configured


def algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name.lower()]
    except KeyError:
        raise ValueError(
            f"Unknown checksum '{name}'; choose one of {', '.join(ALGORITHMS)}."
        ) from None


_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")


def clean_etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


def is_md5_etag(etag: str) -> bool:
    """True when an ETag is a plain MD5 (not SSE-KMS/SSE-C, not multipart)."""
    return bool(_MD5_HEX.match(clean_etag(etag)))


def multipart_etag(part_etags: list[str]) -> str | None:
    """The ETag S3 gives a completed multipart object: md5 of the binary part
    MD5s + '-N'. None when a part ETag is not an MD5 (SSE-KMS, some stores)."""
    if not part_etags or not all(is_md5_etag(e) for e in part_etags):
        return None
    joined = b"".join(bytes.fromhex(clean_etag(e)) for e in part_etags)
    return f"{hashlib.md5(joined).hexdigest()}-{len(part_etags)}"


def md5_hex(data: bytes | memoryview) -> str:
    return hashlib.md5(data).hexdigest()
