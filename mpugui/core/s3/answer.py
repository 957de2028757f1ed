"""An HTTP/1.1 response, parsed as its bytes arrive (core/s3/putloop.py's
connections feed it whatever each read brought: most answers to a
PutObject come whole in one read, a few in pieces)."""

from __future__ import annotations

from typing import NamedTuple


class Answer(NamedTuple):
    status: int
    reason: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    close: bool  # the connection ends with this answer


class AnswerParser:
    """Feed it bytes; it gives the Answer once the last byte is in. Raises
    ValueError on what is not HTTP/1.x, or a head over `head_limit` bytes."""

    def __init__(self, head_limit: int) -> None:
        self._limit = head_limit
        self._buf = bytearray()
        self._head: tuple[int, str, dict[str, str], bool] | None = None
        self._length: int | None = None  # body bytes awaited; None: chunked or to the end
        self._chunked = False
        self._chunks: list[bytes] = []

    def feed(self, data: bytes) -> Answer | None:
        buf = self._buf
        buf += data
        while self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self._limit:
                    raise ValueError("the answer's head is too long")
                return None
            head = self._parse_head(bytes(buf[:end]))
            del buf[:end + 4]
            if head is not None:  # (None: a 1xx, which precedes the answer)
                self._head = head
        if self._chunked:
            return self._chunk_step()
        if self._length is None:
            return None  # read until the server closes
        if len(buf) < self._length:
            return None
        status, reason, headers, close = self._head
        body = bytes(buf[:self._length])
        # Bytes past the answer: nothing was asked for them, so the
        # connection cannot be trusted with another request.
        return Answer(status, reason, headers, body, close or len(buf) > self._length)

    def end(self) -> Answer | None:
        """The server closed the connection: the answer if that ended it
        (a body sent until the close), else None (it is cut short)."""
        if self._head is None or self._chunked or self._length is not None:
            return None
        status, reason, headers, _close = self._head
        return Answer(status, reason, headers, bytes(self._buf), True)

    def _parse_head(self, raw: bytes) -> tuple[int, str, dict[str, str], bool] | None:
        lines = raw.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise ValueError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
        status = int(code)
        if status < 200:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        close = version == "HTTP/1.0" or headers.get("connection", "").lower() == "close"
        if headers.get("transfer-encoding", "").lower() == "chunked":
            self._chunked = True
        elif "content-length" in headers:
            self._length = int(headers["content-length"])
            if self._length < 0:
                raise ValueError("a negative Content-Length")
        elif status in (204, 304):
            self._length = 0
        return status, reason, headers, close

    def _chunk_step(self) -> Answer | None:
        buf = self._buf
        while True:
            line_end = buf.find(b"\r\n")
            if line_end < 0:
                return None
            if self._length is None:  # at a chunk's size line
                size = int(bytes(buf[:line_end]).split(b";", 1)[0], 16)
                if size == 0:
                    if buf.find(b"\r\n\r\n", line_end) < 0:  # the trailers' end
                        return None
                    assert self._head is not None
                    status, reason, headers, close = self._head
                    return Answer(status, reason, headers, b"".join(self._chunks), close)
                del buf[:line_end + 2]
                self._length = size
            if len(buf) < self._length + 2:
                return None
            self._chunks.append(bytes(buf[:self._length]))
            del buf[:self._length + 2]
            self._length = None
