"""The benchmark's S3-protocol sink on 127.0.0.1: measures the *client*.

One asyncio event loop, a `BufferedProtocol` per connection: the kernel copies
each socket read (up to 1 MiB) straight into the connection's buffer
(`recv_into`), body bytes are counted there and dropped, no copy and no
Python object per chunk, whatever size the client writes. `Expect:
100-continue` is answered as soon as the headers are in.

Runs as its own process (`SinkProcess`, `python -m tests.bench.sink`) so its
CPU is not charged to, or taken from, the client's process, and the runner
reads that CPU from /proc/<pid>/stat around every run. `SinkServer` hosts the
same sink on a thread of the caller (the suite's checks of the sink).

S3 calls: PutObject, CreateMultipartUpload, UploadPart,
CompleteMultipartUpload, AbortMultipartUpload, ListParts,
ListMultipartUploads, HeadObject, DeleteObject(s), ListObjectsV2 and V1
(prefix, delimiter, max-keys, continuation-token / start-after / marker),
HeadBucket, GetBucketLocation, CreateBucket, ListBuckets. Path-style, and
virtual-host style when the Host header is `BUCKET.localhost[:port]`.

ETags: the sink hashes no body unless `md5=True`. PutObject returns the
client's Content-MD5 (as S3 would, after checking it) or else the MD5 of
(key, size, a counter); a part's ETag is the MD5 of (upload id, number,
size); Complete returns md5(concatenated part ETags)-N, as S3 does, so a
client's own multipart ETag check passes. HEAD returns size and ETag.

Control channel (not counted): `GET /__sink__/stats` (full JSON: bytes by
key, ops, objects with sizes, uploads in progress, peak in flight),
`GET /__sink__/sample?key=K` (inflight, body bytes, bytes of K: cheap, for the
runner's 20 Hz sampler), `POST /__sink__/reset` (stats), `POST
/__sink__/forget` (objects and uploads).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import hashlib
import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

_BUF = 1024 * 1024
_HEAD_MAX = 64 * 1024
_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_XML = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_ROOT = Path(__file__).resolve().parents[2]
_HOST_BUCKET = re.compile(r"^([a-z0-9][a-z0-9.-]*)\.(localhost|127\.0\.0\.1\.nip\.io)$")


@dataclass
class SinkStats:
    body_bytes: int = 0  # every body byte received, re-sends included
    bytes_by_key: dict[str, int] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)
    inflight: int = 0  # bodies being received right now
    peak_inflight: int = 0
    connections: int = 0  # TCP connections accepted
    requests: int = 0
    first_body: float | None = None  # time.monotonic() (CLOCK_MONOTONIC: same across processes)
    last_body: float | None = None


@dataclass
class _Upload:
    key: str
    initiated: float
    parts: dict[int, tuple[str, int]] = field(default_factory=dict)  # number -> (etag, size)


@dataclass
class _Object:
    size: int
    etag: str
    mtime: float = 0.0


class Store:
    """What the sink holds; one event loop touches it (`lock` for readers on
    other threads, i.e. `SinkServer` users)."""

    def __init__(self, md5: bool = False) -> None:
        self.md5 = md5
        self.lock = threading.Lock()
        self.stats = SinkStats()
        self.uploads: dict[str, _Upload] = {}
        self.objects: dict[str, _Object] = {}  # "bucket/key" -> object
        self._sorted: list[str] | None = None
        self._counter = itertools.count()
        self.conns: set[_Conn] = set()
        # One receive buffer for every connection: asyncio calls get_buffer,
        # recv_into and buffer_updated in one go, and buffer_updated consumes
        # it all (header bytes are copied out), so connections cost no buffer.
        self.buf = bytearray(_BUF)
        self.view = memoryview(self.buf)

    def put(self, full_key: str, obj: _Object) -> None:
        if full_key not in self.objects:
            self._sorted = None
        self.objects[full_key] = obj

    def delete(self, full_key: str) -> None:
        if self.objects.pop(full_key, None) is not None:
            self._sorted = None

    def sorted_keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted

    def forget(self) -> None:
        with self.lock:
            self.objects.clear()
            self.uploads.clear()
            self._sorted = None

    def reset(self) -> None:
        with self.lock:
            self.stats = SinkStats()

    def count(self, op: str) -> None:
        ops = self.stats.ops
        ops[op] = ops.get(op, 0) + 1

    def snapshot(self) -> dict:
        s = self.stats
        return {"body_bytes": s.body_bytes, "bytes_by_key": dict(s.bytes_by_key),
                "ops": dict(s.ops), "inflight": s.inflight, "peak_inflight": s.peak_inflight,
                "connections": s.connections, "requests": s.requests,
                "first_body": s.first_body, "last_body": s.last_body,
                "objects": {k: [o.size, o.etag] for k, o in self.objects.items()},
                "uploads": {u: {"key": up.key, "parts": len(up.parts)}
                            for u, up in self.uploads.items()}}


# -- one connection ------------------------------------------------------------------

_HEADERS, _BODY, _CHUNK_LINE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS = range(6)


class _Conn(asyncio.BufferedProtocol):
    def __init__(self, store: Store) -> None:
        self.store = store
        self.buf = store.buf
        self.view = store.view
        self.head = bytearray()  # header / chunk-line bytes being collected
        self.state = _HEADERS
        self.transport: asyncio.Transport | None = None
        self.req: dict | None = None
        self.left = 0  # body (or chunk) bytes still to come
        self.got = 0
        self.keep: bytearray | None = None  # bodies the sink needs (Complete, DeleteObjects)
        self.hasher = None
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.store.stats.connections += 1
        self.store.conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.store.conns.discard(self)
        if self.state in (_BODY, _CHUNK_LINE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS) \
                and self.req and self.keep is None:
            self.store.stats.inflight -= 1  # a client killed mid-body
        self.req = None

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        try:
            self._feed(self.view[:nbytes])
        except Exception as exc:  # a malformed request: answer 400 and close
            self.close_after = True
            self._send(400, _error_xml("BadRequest", repr(exc)))
            if self.transport is not None:
                self.transport.close()

    def eof_received(self) -> bool:
        return False

    # -- parsing ----------------------------------------------------------------

    def _feed(self, data: memoryview) -> None:
        i, n = 0, len(data)
        while i < n:
            st = self.state
            if st == _HEADERS:
                # At most 64 KiB is copied per request, whatever follows the headers.
                take = min(n - i, _HEAD_MAX)
                old = len(self.head)
                self.head += data[i:i + take]
                pos = self.head.find(b"\r\n\r\n", max(0, old - 3))
                if pos < 0:
                    if len(self.head) > _HEAD_MAX:
                        raise ValueError("headers too long")
                    i += take
                    continue
                i += pos + 4 - old
                raw = bytes(self.head[:pos])
                self.head.clear()
                self._headers(raw)
            elif st in (_CHUNK_LINE, _TRAILERS):
                end = self.buf.find(b"\n", i, n)  # data is a prefix of self.buf
                if end < 0:
                    self.head += data[i:]
                    if len(self.head) > _HEAD_MAX:
                        raise ValueError("chunk line too long")
                    return
                self.head += data[i:end + 1]
                i = end + 1
                line = bytes(self.head).strip()
                self.head.clear()
                if st == _CHUNK_LINE:
                    size = int(line.split(b";")[0] or b"0", 16)
                    if size == 0:
                        self.state = _TRAILERS
                    else:
                        self.left, self.state = size, _CHUNK_DATA
                elif not line:  # end of trailers
                    self._body_done()
            elif st in (_BODY, _CHUNK_DATA):
                take = min(self.left, n - i)
                self._body_bytes(data[i:i + take])
                i += take
                self.left -= take
                if self.left == 0:
                    if st == _BODY:
                        self._body_done()
                    else:
                        self.state = _CHUNK_CRLF
                        self.left = 2
            elif st == _CHUNK_CRLF:
                take = min(self.left, n - i)
                i += take
                self.left -= take
                if self.left == 0:
                    self.state = _CHUNK_LINE

    def _headers(self, raw: bytes) -> None:
        lines = raw.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        self.req = {"method": method, "target": target, "h": headers}
        self.close_after = headers.get("connection", "").lower() == "close" or \
            version == "HTTP/1.0"
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = int(headers.get("content-length") or 0)
        self.got, self.keep, self.hasher = 0, None, None
        if not chunked and length == 0:
            self.state = _HEADERS
            self._dispatch()
            return
        if headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        path = urlsplit(target).path
        self.keep = bytearray() if method == "POST" or path.startswith("/__sink__") else None
        self.hasher = hashlib.md5() if self.store.md5 and method == "PUT" else None
        self.req["key"] = self._body_key()
        if self.keep is None:
            st = self.store.stats
            st.inflight += 1
            st.peak_inflight = max(st.peak_inflight, st.inflight)
        if chunked:
            self.state = _CHUNK_LINE
        else:
            self.state, self.left = _BODY, length

    def _body_bytes(self, chunk: memoryview) -> None:
        k = len(chunk)
        if not k:
            return
        self.got += k
        if self.keep is not None:
            self.keep += chunk
            return
        if self.hasher is not None:
            self.hasher.update(chunk)
        st = self.store.stats
        st.body_bytes += k
        key = self.req["key"] if self.req else ""
        st.bytes_by_key[key] = st.bytes_by_key.get(key, 0) + k
        t = time.monotonic()
        if st.first_body is None:
            st.first_body = t
        st.last_body = t

    def _body_done(self) -> None:
        if self.keep is None:
            self.store.stats.inflight -= 1
        self.state = _HEADERS
        self._dispatch()

    def _body_key(self) -> str:
        bucket, key, _q = self._split()
        return f"{bucket}/{key}" if key else ""

    # -- requests ---------------------------------------------------------------

    def _split(self) -> tuple[str, str, dict[str, str]]:
        assert self.req is not None
        if "split" in self.req:
            return self.req["split"]
        target = self.req["target"]
        raw_path, _, raw_query = target.partition("?")
        if "://" in raw_path:  # absolute form
            raw_path = urlsplit(raw_path).path
        query = {k: v[0] if v else "" for k, v in
                 parse_qs(raw_query, keep_blank_values=True).items()} if raw_query else {}
        path = unquote(raw_path)
        host = self.req["h"].get("host", "")
        m = None if not host or host[0].isdigit() else \
            _HOST_BUCKET.match(host.rsplit(":", 1)[0].lower())
        if m:  # virtual-host style
            bucket, key = m.group(1), path.lstrip("/")
        else:
            segs = path.lstrip("/").split("/", 1)
            bucket, key = segs[0], segs[1] if len(segs) > 1 else ""
        self.req["split"] = (bucket, key, query)
        return self.req["split"]

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              length: int | None = None, head: bool = False) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        out = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}",
               f"Content-Length: {len(body) if length is None else length}",
               "x-amz-request-id: sink", "Server: bench-sink"]
        if body:
            out.append("Content-Type: application/xml")
        if self.close_after:
            out.append("Connection: close")
        out += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.transport.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") +
                             (b"" if head else body))
        if self.close_after:
            self.transport.close()

    def _dispatch(self) -> None:
        req = self.req
        assert req is not None
        method = req["method"]
        if req["target"].startswith("/__sink__/"):
            self._control()
            return
        self.store.stats.requests += 1  # S3 requests (the control channel's are not counted)
        bucket, key, q = self._split()
        s = self.store
        if method == "PUT":
            self._put(bucket, key, q)
        elif method == "POST":
            self._post(bucket, key, q)
        elif method == "HEAD":
            if not key:
                s.count("HeadBucket")
                self._send(200, headers={"x-amz-bucket-region": "us-east-1"})
                return
            s.count("HeadObject")
            obj = s.objects.get(f"{bucket}/{key}")
            if obj is None:
                self._send(404, head=True)
            else:
                self._send(200, headers={"ETag": obj.etag, "Last-Modified": _http_date(obj.mtime),
                                         "Accept-Ranges": "bytes"}, length=obj.size, head=True)
        elif method == "GET":
            self._get(bucket, key, q)
        elif method == "DELETE":
            if "uploadId" in q:
                s.count("AbortMultipartUpload")
                s.uploads.pop(q["uploadId"], None)
            else:
                s.count("DeleteObject")
                s.delete(f"{bucket}/{key}")
            self._send(204)
        else:
            self._send(405, _error_xml("MethodNotAllowed", method))
        self.req = None

    def _put(self, bucket: str, key: str, q: dict[str, str]) -> None:
        s = self.store
        h = self.req["h"] if self.req else {}
        if not key:
            s.count("CreateBucket")
            self._send(200, headers={"Location": f"/{bucket}"})
            return
        decoded = h.get("x-amz-decoded-content-length")
        size = int(decoded) if decoded else self.got
        md5 = self.hasher.hexdigest() if self.hasher is not None else None
        if "uploadId" in q and "partNumber" in q:
            s.count("UploadPart")
            up = s.uploads.get(q["uploadId"])
            if up is None:
                self._send(404, _error_xml("NoSuchUpload", q["uploadId"]))
                return
            number = int(q["partNumber"])
            etag = md5 or hashlib.md5(f"{q['uploadId']}:{number}:{size}".encode()).hexdigest()
            up.parts[number] = (etag, size)
        else:
            s.count("PutObject")
            given = h.get("content-md5")
            if md5 is None and given:
                with contextlib.suppress(ValueError):
                    md5 = base64.b64decode(given).hex()
            etag = md5 or hashlib.md5(
                f"{bucket}/{key}:{size}:{next(s._counter)}".encode()).hexdigest()
            s.put(f"{bucket}/{key}", _Object(size, f'"{etag}"', time.time()))
        headers = {"ETag": f'"{etag}"'}
        for k, v in h.items():
            if k.startswith("x-amz-checksum-") and k != "x-amz-checksum-type":
                headers[k] = v  # echo, as S3 does
        self._send(200, headers=headers)

    def _post(self, bucket: str, key: str, q: dict[str, str]) -> None:
        s = self.store
        if "uploads" in q:
            s.count("CreateMultipartUpload")
            upload_id = uuid.uuid4().hex
            s.uploads[upload_id] = _Upload(f"{bucket}/{key}", time.time())
            self._send(200, _xml("InitiateMultipartUploadResult",
                                 [("Bucket", bucket), ("Key", key), ("UploadId", upload_id)]))
        elif "uploadId" in q:
            s.count("CompleteMultipartUpload")
            doc = bytes(self.keep or b"").decode()
            numbers = [int(n) for n in re.findall(r"<PartNumber>\s*(\d+)\s*</PartNumber>", doc)]
            up = s.uploads.get(q["uploadId"])
            if up is None:
                self._send(404, _error_xml("NoSuchUpload", q["uploadId"]))
                return
            if not numbers or any(n not in up.parts for n in numbers):
                self._send(400, _error_xml("InvalidPart", "a part is missing"))
                return
            del s.uploads[q["uploadId"]]
            joined = b"".join(bytes.fromhex(up.parts[n][0]) for n in numbers)
            etag = f'"{hashlib.md5(joined).hexdigest()}-{len(numbers)}"'
            s.put(f"{bucket}/{key}", _Object(sum(up.parts[n][1] for n in numbers), etag,
                                             time.time()))
            self._send(200, _xml("CompleteMultipartUploadResult",
                                 [("Location", f"/{bucket}/{key}"), ("Bucket", bucket),
                                  ("Key", key), ("ETag", etag)]))
        elif "delete" in q:
            s.count("DeleteObjects")
            doc = bytes(self.keep or b"").decode()
            keys = [unescape_xml(k) for k in re.findall(r"<Key>(.*?)</Key>", doc, re.S)]
            for k in keys:
                s.delete(f"{bucket}/{k}")
            body = "".join(f"<Deleted><Key>{escape(k)}</Key></Deleted>" for k in keys)
            self._send(200, _XML + f'<DeleteResult xmlns="{_NS}">{body}</DeleteResult>'.encode())
        else:
            self._send(400, _error_xml("InvalidRequest", "unknown POST"))

    def _get(self, bucket: str, key: str, q: dict[str, str]) -> None:
        s = self.store
        if not bucket:
            s.count("ListBuckets")
            self._send(200, _XML + (
                f'<ListAllMyBucketsResult xmlns="{_NS}"><Owner><ID>sink</ID></Owner><Buckets>'
                f"<Bucket><Name>bench</Name><CreationDate>2020-01-01T00:00:00.000Z"
                f"</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>").encode())
        elif key and "uploadId" in q:
            s.count("ListParts")
            up = s.uploads.get(q["uploadId"])
            if up is None:
                self._send(404, _error_xml("NoSuchUpload", q["uploadId"]))
                return
            marker = int(q.get("part-number-marker") or 0)
            limit = int(q.get("max-parts") or 1000)
            numbers = sorted(n for n in up.parts if n > marker)
            page, more = numbers[:limit], len(numbers) > limit
            body = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>&quot;{up.parts[n][0]}"
                           f"&quot;</ETag><Size>{up.parts[n][1]}</Size>"
                           f"<LastModified>{_iso(up.initiated)}</LastModified></Part>"
                           for n in page)
            nxt = f"<NextPartNumberMarker>{page[-1]}</NextPartNumberMarker>" if more else ""
            self._send(200, _XML + (
                f'<ListPartsResult xmlns="{_NS}"><Bucket>{escape(bucket)}</Bucket>'
                f"<Key>{escape(key)}</Key><UploadId>{q['uploadId']}</UploadId>"
                f"<PartNumberMarker>{marker}</PartNumberMarker>{nxt}<MaxParts>{limit}</MaxParts>"
                f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>{body}"
                "</ListPartsResult>").encode())
        elif key:
            s.count("GetObject")
            self._send(404, _error_xml("NoSuchKey", key))
        elif "location" in q:
            s.count("GetBucketLocation")
            self._send(200, _XML + f'<LocationConstraint xmlns="{_NS}"/>'.encode())
        elif "uploads" in q:
            s.count("ListMultipartUploads")
            prefix = q.get("prefix", "")
            ups = sorted((up.key.split("/", 1)[1], u, up) for u, up in s.uploads.items()
                         if up.key.startswith(f"{bucket}/{prefix}"))[:1000]
            body = "".join(f"<Upload><Key>{escape(k)}</Key><UploadId>{u}</UploadId>"
                           f"<Initiated>{_iso(up.initiated)}</Initiated></Upload>"
                           for k, u, up in ups)
            self._send(200, _XML + (
                f'<ListMultipartUploadsResult xmlns="{_NS}"><Bucket>{escape(bucket)}</Bucket>'
                f"<Prefix>{escape(prefix)}</Prefix><MaxUploads>1000</MaxUploads>"
                f"<IsTruncated>false</IsTruncated>{body}</ListMultipartUploadsResult>").encode())
        elif any(k in q for k in ("versioning", "acl", "policy", "lifecycle", "cors", "tagging",
                                  "encryption", "object-lock", "ownershipControls")):
            s.count("GetBucketConfig")
            self._send(404, _error_xml("NoSuchConfiguration", "none"))
        else:
            self._list(bucket, q)

    def _list(self, bucket: str, q: dict[str, str]) -> None:
        s = self.store
        v2 = q.get("list-type") == "2"
        s.count("ListObjectsV2" if v2 else "ListObjects")
        prefix = q.get("prefix", "")
        delim = q.get("delimiter", "")
        limit = max(1, min(1000, int(q.get("max-keys") or 1000)))
        enc = q.get("encoding-type") == "url"
        after = (q.get("continuation-token") or q.get("start-after", "")) if v2 else \
            q.get("marker", "")
        if v2 and q.get("continuation-token"):
            after = base64.urlsafe_b64decode(after.encode()).decode()
        keys = s.sorted_keys()
        lo = f"{bucket}/{prefix}"
        i = bisect.bisect_right(keys, f"{bucket}/{after}") if after else 0
        i = max(i, bisect.bisect_left(keys, lo))
        contents, prefixes, last = [], [], ""
        seen_prefixes: set[str] = set()
        more = False
        while i < len(keys):
            full = keys[i]
            if not full.startswith(lo):
                break
            if len(contents) + len(prefixes) >= limit:
                more = True
                break
            k = full[len(bucket) + 1:]
            if delim:
                cut = k.find(delim, len(prefix))
                if cut >= 0:
                    cp = k[:cut + len(delim)]
                    if cp not in seen_prefixes and not (after and cp <= after):
                        seen_prefixes.add(cp)
                        prefixes.append(cp)
                    last = cp
                    # skip every key under this common prefix
                    i = bisect.bisect_left(keys, f"{bucket}/{cp}\U0010ffff")
                    continue
            contents.append((k, s.objects[full]))
            last = k
            i += 1

        def e(x: str) -> str:
            return quote(x, safe="/") if enc else escape(x)

        body = "".join(f"<Contents><Key>{e(k)}</Key><LastModified>{_iso(o.mtime)}"
                       f"</LastModified><ETag>&quot;{o.etag.strip(chr(34))}&quot;</ETag>"
                       f"<Size>{o.size}</Size><StorageClass>STANDARD</StorageClass></Contents>"
                       for k, o in contents)
        body += "".join(f"<CommonPrefixes><Prefix>{e(p)}</Prefix></CommonPrefixes>"
                        for p in prefixes)
        head = (f"<Name>{escape(bucket)}</Name><Prefix>{e(prefix)}</Prefix>"
                f"<MaxKeys>{limit}</MaxKeys><IsTruncated>{'true' if more else 'false'}"
                f"</IsTruncated>")
        if delim:
            head += f"<Delimiter>{e(delim)}</Delimiter>"
        if enc:
            head += "<EncodingType>url</EncodingType>"
        if v2:
            head += f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>"
            if q.get("continuation-token"):
                head += f"<ContinuationToken>{q['continuation-token']}</ContinuationToken>"
            if more:
                token = base64.urlsafe_b64encode(last.encode()).decode()
                head += f"<NextContinuationToken>{token}</NextContinuationToken>"
        else:
            head += f"<Marker>{e(q.get('marker', ''))}</Marker>"
            if more:
                head += f"<NextMarker>{e(last)}</NextMarker>"
        self._send(200, _XML + f'<ListBucketResult xmlns="{_NS}">{head}{body}'
                   f"</ListBucketResult>".encode())

    def _control(self) -> None:
        req = self.req
        assert req is not None
        parts = urlsplit(req["target"])
        s = self.store
        what = parts.path[len("/__sink__/"):]
        if what == "sample":
            key = parse_qs(parts.query).get("key", [""])[0]
            st = s.stats
            out = {"t": time.monotonic(), "inflight": st.inflight, "body_bytes": st.body_bytes,
                   "key_bytes": st.bytes_by_key.get(key, 0), "requests": st.requests,
                   "objects": len(s.objects), "uploads": len(s.uploads)}
        elif what == "stats":
            out = s.snapshot()
        elif what == "reset":
            s.reset()
            out = {}
        elif what == "forget":
            s.forget()
            out = {}
        else:
            self._send(404)
            return
        self._send(200, json.dumps(out).encode(), {"Content-Type": "application/json"})


_REASONS = {100: "Continue", 200: "OK", 204: "No Content", 400: "Bad Request",
            404: "Not Found", 405: "Method Not Allowed"}


def unescape_xml(s: str) -> str:
    return (s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def _xml(root: str, children: list[tuple[str, str]]) -> bytes:
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in children)
    return _XML + f'<{root} xmlns="{_NS}">{inner}</{root}>'.encode()


def _error_xml(code: str, message: str) -> bytes:
    return _XML + (f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
                   f"<RequestId>sink</RequestId></Error>").encode()


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


def _http_date(t: float) -> str:
    return formatdate(t, usegmt=True)


# -- hosts -----------------------------------------------------------------------------

class SinkServer:
    """The sink on an event loop thread of this process (for the suite's
    checks); `stats` and `objects` are the live structures."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, md5: bool = False) -> None:
        self.store = Store(md5)
        self.host, self._port = host, port
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bench-sink",
                                        daemon=True)
        self._server: asyncio.AbstractServer | None = None

    @property
    def stats(self) -> SinkStats:
        return self.store.stats

    @property
    def objects(self) -> dict[str, _Object]:
        return self.store.objects

    @property
    def uploads(self) -> dict[str, _Upload]:
        return self.store.uploads

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def start(self) -> SinkServer:
        self._thread.start()

        async def start() -> None:
            self._server = await self.loop.create_server(
                lambda: _Conn(self.store), self.host, self._port, backlog=1024,
                reuse_address=True)
            self._port = self._server.sockets[0].getsockname()[1]

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        return self

    def stop(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for conn in list(self.store.conns):
                if conn.transport is not None:
                    conn.transport.close()
            await asyncio.sleep(0.05)  # connection_lost runs

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def reset_stats(self) -> None:
        self.loop.call_soon_threadsafe(self.store.reset)

    def forget_objects(self) -> None:
        self.loop.call_soon_threadsafe(self.store.forget)

    def __enter__(self) -> SinkServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def proc_cpu(pid: int) -> float:
    """utime + stime of a live process, in seconds (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SinkProcess:
    """The sink in its own process; the runner talks to it over the control
    endpoints and reads its CPU from /proc."""

    def __init__(self, md5: bool = False) -> None:
        argv = [sys.executable, "-m", "tests.bench.sink"] + (["--md5"] if md5 else [])
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=_ROOT,
                                     env={**os.environ, "PYTHONPATH": str(_ROOT)})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip():
            self.proc.kill()
            raise RuntimeError("the sink process did not start")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"
        # A keep-alive connection would be nicer; a fresh one per call costs
        # the sink ~0.1 ms, 20 times a second while sampling.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._local = threading.local()  # the sampler's keep-alive connection

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def _call(self, what: str, method: str = "GET", timeout: float = 30) -> dict:
        req = urllib.request.Request(f"{self.url}/__sink__/{what}", method=method,
                                     data=b"" if method == "POST" else None)
        with self._opener.open(req, timeout=timeout) as r:
            return json.loads(r.read())

    def sample(self, key: str = "") -> dict:
        """Bodies in flight, body bytes, bytes of `key`: over a keep-alive
        connection (20 calls a second cost the sink ~1 ms of CPU a second)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                                  timeout=5)
        try:
            conn.request("GET", f"/__sink__/sample?key={quote(key, safe='')}")
            return json.loads(conn.getresponse().read())
        except (OSError, http.client.HTTPException):
            conn.close()
            self._local.conn = None
            raise

    def stats(self) -> dict:
        return self._call("stats", timeout=120)

    def reset_stats(self) -> None:
        self._call("reset", "POST")

    def forget_objects(self) -> None:
        self._call("forget", "POST")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> SinkProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """Serve in this process: prints the port, serves until SIGTERM/SIGINT."""
    import argparse

    p = argparse.ArgumentParser(description="the benchmark's S3 sink")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--md5", action="store_true", help="hash bodies for real ETags")
    args = p.parse_args(argv)
    store = Store(args.md5)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        server = await loop.create_server(lambda: _Conn(store), "127.0.0.1", args.port,
                                          backlog=1024, reuse_address=True)
        print(server.sockets[0].getsockname()[1], flush=True)
        await stop
        server.close()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
