"""A small S3-protocol sink on 127.0.0.1 that measures the *client*.

It answers CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
PutObject, HeadObject, ListParts, AbortMultipartUpload (plus the bucket calls
rclone makes) and throws every body away. `Expect: 100-continue` is answered
at once (http.server does so before the handler runs).

ETags: by default the sink does not hash bodies (MD5 would cost it ~1.2 s/GiB
of the same two cores the client runs on). It returns a recorded ETag per part
(MD5 of upload id, part number and size) and derives the multipart ETag from
those at Complete, so HEAD returns the size and the multipart ETag a client
computes from the part ETags it was given. `md5=True` hashes the real bytes
(used by the correctness test).

Counters (`stats`): body bytes received (re-sends included), bytes per key,
requests per operation, the number of bodies in flight (sampled by the runner
to see how many connections a client keeps busy), first/last body byte times.
"""

from __future__ import annotations

import hashlib
import socketserver
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_BUF = 1024 * 1024


@dataclass
class SinkStats:
    body_bytes: int = 0  # every body byte received, re-sends included
    bytes_by_key: dict[str, int] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)
    inflight: int = 0  # bodies being received right now
    peak_inflight: int = 0
    connections: int = 0  # TCP connections accepted
    first_body: float | None = None
    last_body: float | None = None


@dataclass
class _Upload:
    key: str
    parts: dict[int, tuple[str, int]] = field(default_factory=dict)  # number -> (etag, size)


@dataclass
class _Object:
    size: int
    etag: str


class _Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        pass  # a client killed mid-body (the resume scenario) is expected


class SinkServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, md5: bool = False) -> None:
        self.md5 = md5
        self.lock = threading.Lock()
        self.stats = SinkStats()
        self.uploads: dict[str, _Upload] = {}
        self.objects: dict[str, _Object] = {}
        sink = self

        class Handler(_Handler):
            pass

        Handler.sink = sink
        self._server = _Server((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> SinkServer:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="bench-sink", daemon=True,
                                        kwargs={"poll_interval": 0.1})
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def reset_stats(self) -> None:
        with self.lock:
            self.stats = SinkStats()

    def forget_objects(self) -> None:
        with self.lock:
            self.objects.clear()
            self.uploads.clear()

    def __enter__(self) -> SinkServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sink: SinkServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.sink.lock:
            self.sink.stats.connections += 1
        self._buf = bytearray(_BUF)

    # -- plumbing -------------------------------------------------------------

    def _split(self) -> tuple[str, str, dict[str, str]]:
        parts = urlsplit(self.path)
        query = {k: v[0] if v else "" for k, v in
                 parse_qs(parts.query, keep_blank_values=True).items()}
        segs = unquote(parts.path).lstrip("/").split("/", 1)
        bucket = segs[0]
        key = segs[1] if len(segs) > 1 else ""
        return bucket, key, query

    def _count(self, op: str) -> None:
        with self.sink.lock:
            self.sink.stats.ops[op] = self.sink.stats.ops.get(op, 0) + 1

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
               content_length: int | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body:
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length",
                         str(len(body) if content_length is None else content_length))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _xml(self, root: str, **children: object) -> bytes:
        el = ET.Element(root, xmlns=_NS)
        for k, v in children.items():
            ET.SubElement(el, k).text = str(v)
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(el)

    def _discard_body(self, key: str) -> tuple[int, str | None]:
        """Read and drop the body; returns (decoded size, md5 hex if hashing)."""
        hasher = hashlib.md5() if self.sink.md5 else None
        stats, lock = self.sink.stats, self.sink.lock
        with lock:
            stats.inflight += 1
            stats.peak_inflight = max(stats.peak_inflight, stats.inflight)
        got = 0
        try:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                got = self._discard_chunked(hasher, key)
            else:
                got = self._drain(int(self.headers.get("Content-Length") or 0), hasher, key)
        finally:
            with lock:
                stats.inflight -= 1
        decoded = self.headers.get("x-amz-decoded-content-length")
        size = int(decoded) if decoded else got
        return size, hasher.hexdigest() if hasher is not None else None

    def _discard_chunked(self, hasher, key: str) -> int:
        got = 0
        while True:
            line = self.rfile.readline(1024)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return got
            got += self._drain(size, hasher, key)
            self.rfile.readline(16)

    def _drain(self, left: int, hasher, key: str) -> int:
        """Read `left` body bytes into the scratch buffer, hashing if asked."""
        view = memoryview(self._buf)
        got = 0
        while left > 0:
            # readinto1: one socket read, so bytes are counted as they arrive
            # (readinto waits to fill the buffer: ~1 s late at 1 MB/s).
            n = self.rfile.readinto1(view[:min(left, _BUF)])
            if not n:
                raise ConnectionError("client closed mid-body")
            if hasher is not None:
                hasher.update(view[:n])
            left -= n
            got += n
            self._account(key, n)
        return got

    def _account(self, key: str, n: int) -> None:
        t = time.monotonic()
        with self.sink.lock:
            s = self.sink.stats
            s.body_bytes += n
            s.bytes_by_key[key] = s.bytes_by_key.get(key, 0) + n
            if s.first_body is None:
                s.first_body = t
            s.last_body = t

    # -- verbs -------------------------------------------------------------------

    def do_PUT(self) -> None:
        bucket, key, q = self._split()
        if not key:  # CreateBucket
            self._discard_body(key)
            self._count("CreateBucket")
            self._reply(200)
            return
        size, md5 = self._discard_body(f"{bucket}/{key}")
        if "uploadId" in q and "partNumber" in q:
            self._count("UploadPart")
            upload_id, number = q["uploadId"], int(q["partNumber"])
            etag = md5 or hashlib.md5(f"{upload_id}:{number}:{size}".encode()).hexdigest()
            with self.sink.lock:
                up = self.sink.uploads.get(upload_id)
                if up is not None:
                    up.parts[number] = (etag, size)
            if up is None:
                self._error(404, "NoSuchUpload")
                return
        else:
            self._count("PutObject")
            etag = md5 or hashlib.md5(f"{bucket}/{key}:{size}:{time.time()}".encode()).hexdigest()
            with self.sink.lock:
                self.sink.objects[f"{bucket}/{key}"] = _Object(size, f'"{etag}"')
        headers = {"ETag": f'"{etag}"'}
        for h, v in self.headers.items():
            if h.lower().startswith("x-amz-checksum-") and h.lower() != "x-amz-checksum-type":
                headers[h] = v  # echo, as S3 does
        self._reply(200, headers=headers)

    def do_POST(self) -> None:
        bucket, key, q = self._split()
        if "uploads" in q:
            self._discard_body("")
            self._count("CreateMultipartUpload")
            upload_id = uuid.uuid4().hex
            with self.sink.lock:
                self.sink.uploads[upload_id] = _Upload(f"{bucket}/{key}")
            self._reply(200, self._xml("InitiateMultipartUploadResult", Bucket=bucket, Key=key,
                                       UploadId=upload_id))
        elif "uploadId" in q:
            length = int(self.headers.get("Content-Length") or 0)
            doc = self.rfile.read(length)
            self._count("CompleteMultipartUpload")
            numbers = [int(el.text or 0) for el in ET.fromstring(doc).iter()
                       if el.tag.endswith("PartNumber")]
            with self.sink.lock:
                up = self.sink.uploads.pop(q["uploadId"], None)
                if up is not None:
                    missing = [n for n in numbers if n not in up.parts]
                    if not missing:
                        md5s = b"".join(bytes.fromhex(up.parts[n][0]) for n in numbers)
                        etag = f'"{hashlib.md5(md5s).hexdigest()}-{len(numbers)}"'
                        size = sum(up.parts[n][1] for n in numbers)
                        self.sink.objects[f"{bucket}/{key}"] = _Object(size, etag)
                    else:
                        self.sink.uploads[q["uploadId"]] = up
            if up is None:
                self._error(404, "NoSuchUpload")
            elif missing:
                self._error(400, "InvalidPart")
            else:
                self._reply(200, self._xml("CompleteMultipartUploadResult", Bucket=bucket,
                                           Key=key, ETag=etag))
        else:
            self._discard_body("")
            self._reply(200)

    def do_HEAD(self) -> None:
        bucket, key, _q = self._split()
        self._count("HeadObject" if key else "HeadBucket")
        if not key:
            self._reply(200)
            return
        with self.sink.lock:
            obj = self.sink.objects.get(f"{bucket}/{key}")
        if obj is None:
            self._reply(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(obj.size))
        self.send_header("ETag", obj.etag)
        self.send_header("Last-Modified", self.date_time_string())
        self.end_headers()

    def do_GET(self) -> None:
        bucket, key, q = self._split()
        if "uploadId" in q:
            self._count("ListParts")
            with self.sink.lock:
                up = self.sink.uploads.get(q["uploadId"])
                parts = sorted(up.parts.items()) if up is not None else []
            if up is None:
                self._error(404, "NoSuchUpload")
                return
            el = ET.Element("ListPartsResult", xmlns=_NS)
            for k, v in (("Bucket", bucket), ("Key", key), ("UploadId", q["uploadId"]),
                         ("IsTruncated", "false")):
                ET.SubElement(el, k).text = v
            for number, (etag, size) in parts:
                p = ET.SubElement(el, "Part")
                ET.SubElement(p, "PartNumber").text = str(number)
                ET.SubElement(p, "ETag").text = f'"{etag}"'
                ET.SubElement(p, "Size").text = str(size)
            self._reply(200, b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(el))
        elif not key:  # ListObjects(V2) / GetBucketLocation: an empty bucket
            self._count("ListBucket")
            if "location" in q:
                self._reply(200, self._xml("LocationConstraint"))
            else:
                self._reply(200, self._xml("ListBucketResult", Name=bucket, Prefix="",
                                           KeyCount=0, MaxKeys=1000, IsTruncated="false"))
        else:
            self._error(404, "NoSuchKey")

    def do_DELETE(self) -> None:
        _bucket, _key, q = self._split()
        self._count("Delete")
        if "uploadId" in q:
            with self.sink.lock:
                self.sink.uploads.pop(q["uploadId"], None)
        self._reply(204)

    def _error(self, status: int, code: str) -> None:
        self._reply(status, self._xml("Error", Code=code, Message=code))


def main() -> int:
    """Serve standalone (for the GUI probe, which keeps the sink out of its
    own process): prints the port, serves until killed."""
    sink = SinkServer().start()
    print(sink.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
