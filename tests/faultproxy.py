"""A small scriptable HTTP proxy between the engine and moto's server, for
fault injection (the way aws-c-s3 scripts its mock server's failures).

It listens on 127.0.0.1, speaks just enough HTTP/1.1 (keep-alive, Content-Length
or chunked bodies, an immediate "100 Continue" for botocore's Expect header)
and forwards each request to the upstream server on a fresh connection. Each
test scripts it with `Fault` rules, matched in order against every request:

    proxy.add(Fault("UploadPart", "error", status=503, code="SlowDown", times=2))

Actions:
  error           answer with an S3 error (status, code) without forwarding
  reset           read `after_bytes` of the body, then reset the connection
  stall           forward, then hold the response past the client's read timeout
  drop            forward (the server acts), then close without answering
  complete_error  answer 200 with an <Error> body (CompleteMultipartUpload)
  answer          answer `status` with `body` (XML) without forwarding: an
                  operation the server lacks, answered as AWS would
                  (ListDirectoryBuckets, which moto does not implement)
  lose_upload     abort the upload on the server, then forward (-> NoSuchUpload)

With `gone=True` (always for lose_upload), the upload id is then treated as
gone: every later request naming it is answered 404 NoSuchUpload, as S3 and
MinIO answer once an upload is completed or aborted. moto instead answers a
repeated Complete idempotently (200) and a part of an aborted upload with a
500 (a KeyError inside moto), so `gone` lets the tests meet S3's behaviour.
  opaque_etag     forward, then answer with an ETag that is not the MD5 (as S3 does
                  under SSE-KMS/SSE-C); a later CompleteMultipartUpload naming it
                  is translated back, so the server assembles the real parts
  hold            stop at `phase` ("before" forwarding, "after" it, or in the
                  "body" after `after_bytes`) until released: a deterministic
                  point for a SIGKILL; the connection is closed on release

Outages, for the whole proxy rather than per request:
  refuse()        stop listening and reset every open connection: new
                  connections are refused, as when the network or a VPN goes
                  away; accept() listens again on the same port
  blackhole()     accept connections but never answer (a frozen link): requests
                  are read and held, unanswered, until unblackhole()

The proxy also counts what reached the server: every forwarded request, and
the UploadPart/PutObject body bytes the server accepted.
"""

from __future__ import annotations

import hashlib
import http.client
import random
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

ERROR_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
             "<Message>{message}</Message><RequestId>faultproxy</RequestId></Error>")

_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "RequestTimeout": "Your socket connection to the server was not read from or written "
                      "to within the timeout period.",
}
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            500: "Internal Server Error", 503: "Service Unavailable"}
_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection",
        "content-length"}


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    op: str
    bucket: str
    key: str
    query: dict[str, str]

    @property
    def upload_id(self) -> str | None:
        return self.query.get("uploadId")

    @property
    def part(self) -> int | None:
        n = self.query.get("partNumber")
        return int(n) if n else None


@dataclass
class Fault:
    op: str | tuple[str, ...]  # operation name(s), e.g. "UploadPart", ("PutObject", "UploadPart")
    action: str
    times: int | None = 1  # how many requests it hits; None = every matching one
    share: float = 1.0  # probability of hitting a matching request (seeded)
    skip: int = 0  # let this many matching requests through first
    part: int | None = None  # only this part number
    when: Callable[[Request], bool] | None = None
    status: int = 503
    code: str = "SlowDown"
    message: str | None = None
    after_bytes: int = 64 * 1024
    seconds: float = 5.0
    phase: str = "before"
    body: bytes = b""  # the answer's XML (action "answer")
    gone: bool = False
    hits: int = 0
    seen: int = 0
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def matches(self, req: Request) -> bool:
        ops = (self.op,) if isinstance(self.op, str) else self.op
        if req.op not in ops and "*" not in ops:
            return False
        if self.part is not None and req.part != self.part:
            return False
        return self.when is None or bool(self.when(req))


@dataclass
class Forwarded:
    op: str
    upload_id: str | None
    part: int | None
    body_bytes: int
    status: int
    key: str


def classify(method: str, path: str, query: dict[str, str]) -> tuple[str, str, str]:
    """(operation, bucket, key) of a path-style S3 request."""
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    up = "uploadId" in query
    if method == "PUT":
        op = "UploadPart" if up and "partNumber" in query else (
            "PutObject" if key else "CreateBucket")
    elif method == "POST":
        op = "CreateMultipartUpload" if "uploads" in query else (
            "CompleteMultipartUpload" if up else "Post")
    elif method == "DELETE":
        op = "AbortMultipartUpload" if up else ("DeleteObject" if key else "DeleteBucket")
    elif method == "GET":
        op = "ListParts" if up else ("ListMultipartUploads" if "uploads" in query else (
            "GetObject" if key else "ListObjects" if bucket else
            # ListDirectoryBuckets is GET / too: botocore always sends its page size.
            "ListDirectoryBuckets" if "max-directory-buckets" in query else "ListBuckets"))
    elif method == "HEAD":
        op = "HeadObject" if key else "HeadBucket"
    else:
        op = method
    return op, bucket, key


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, proxy: FaultProxy, tls: ssl.SSLContext | None, port: int = 0) -> None:
        self.proxy = proxy
        self.tls = tls
        super().__init__(("127.0.0.1", port), _Handler)

    def verify_request(self, request, client_address):  # type: ignore[no-untyped-def]
        # refuse() is under way (the accept loop stops within a poll): close at once
        return not self.proxy.refusing

    def get_request(self):  # type: ignore[no-untyped-def]
        sock, addr = self.socket.accept()
        if self.tls is not None and self.proxy.tls_reset:
            sock.close()  # TCP answers, the TLS handshake does not (a middlebox)
            raise OSError("handshake refused")  # socketserver drops it quietly
        if self.proxy.tls_swap is not None:  # another certificate (a captive portal)
            return self.proxy.tls_swap.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False), addr
        if self.tls is not None:
            # The handshake runs in the handler's thread, so a client that
            # rejects the certificate does not block the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        proxy = self.server.proxy
        proxy._track(self.connection, True)
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()
            while not proxy._stopping.is_set() and self._one_request(proxy):
                pass
        except (OSError, ValueError, ssl.SSLError):
            pass  # the client went away (or was killed): nothing to answer
        finally:
            proxy._track(self.connection, False)

    def _read_body(self, headers: dict[str, str], limit: int | None = None,
                   op: str = "") -> bytes:
        body = self._read_body_raw(headers, limit)
        self.server.proxy._received(op, len(body))
        return body

    def _read_body_raw(self, headers: dict[str, str], limit: int | None) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(headers.get("content-length", "0") or 0)
        if limit is not None:
            length = min(length, limit)
        return self.rfile.read(length) if length else b""

    def _one_request(self, proxy: FaultProxy) -> bool:
        line = self.rfile.readline(65537)
        if not line.strip():
            return False
        method, target, _version = line.decode("latin-1").split(None, 2)
        headers: dict[str, str] = {}
        while True:
            h = self.rfile.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        op, bucket, key = classify(method, parts.path, query)
        req = Request(method, target, headers, op, bucket, key, query)
        if proxy._holes(op):
            return False  # blackholed: held unanswered, then the connection closes
        gone = req.upload_id is not None and req.upload_id in proxy.gone
        fault = None if gone else proxy._match(req)
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        action = fault.action if fault else None
        if action == "reset" or (action == "hold" and fault and fault.phase == "body"):
            assert fault is not None
            self._read_body(headers, limit=fault.after_bytes, op=op)
            if action == "hold":
                self._hold(fault)
            self._reset()
            return False
        body = self._read_body(headers, op=op)
        if len(body) < int(headers.get("content-length", len(body)) or 0):
            return False  # the client went away mid-body: a server would not store it
        if gone:
            self._send_error(method, 404, "NoSuchUpload", "The specified upload does not exist.")
            return self._keep_alive(headers)
        if proxy.authorize is not None and not proxy.authorize(req):
            with proxy._lock:
                proxy.rejected.append(req.op)
            self._send_error(method, 400, "ExpiredToken", "The provided token has expired.")
            return self._keep_alive(headers)
        if action == "hold" and fault and fault.phase == "before":
            self._hold(fault)
            return False
        if action == "error" and fault:
            self._send_error(method, fault.status, fault.code, fault.message)
            return self._keep_alive(headers)
        if action == "answer" and fault:
            self._send(fault.status, [("Content-Type", "application/xml")], fault.body,
                       head=method == "HEAD")
            return self._keep_alive(headers)
        if action == "complete_error" and fault:
            self._send(200, [("Content-Type", "application/xml")], self._error_xml(
                fault.code if fault.code != "SlowDown" else "InternalError", fault.message))
            return self._keep_alive(headers)
        if action == "lose_upload" and req.upload_id:
            proxy._abort_upstream(req)
            proxy.gone.add(req.upload_id)
            self._send_error(method, 404, "NoSuchUpload", "The specified upload does not exist.")
            return self._keep_alive(headers)
        if req.op == "CompleteMultipartUpload":
            body = proxy._real_etags(body)
        status, reason, resp_headers, resp_body = proxy._forward(req, body)
        if proxy._holes(op, counted=False):
            return False  # the server acted; its answer is lost in the hole
        if action == "opaque_etag" and status < 300:
            resp_headers = [(k, proxy._opaque(v) if k.lower() == "etag" else v)
                            for k, v in resp_headers]
        if req.upload_id and ((fault and fault.gone) or (
                proxy.forget_completed and status < 300
                and req.op in ("CompleteMultipartUpload", "AbortMultipartUpload"))):
            proxy.gone.add(req.upload_id)
        if action == "drop":
            self._reset()
            return False
        if action == "stall" and fault:
            proxy._stopping.wait(fault.seconds)
            return False
        if action == "hold" and fault:  # phase "after": the server acted, no answer yet
            self._hold(fault)
            return False
        self._send(status, resp_headers, resp_body, reason=reason, head=method == "HEAD")
        return self._keep_alive(headers)

    def _hold(self, fault: Fault) -> None:
        fault.held.set()
        proxy = self.server.proxy
        while not fault.release.wait(0.05) and not proxy._stopping.is_set():
            pass

    def _keep_alive(self, headers: dict[str, str]) -> bool:
        return headers.get("connection", "").lower() != "close"

    @staticmethod
    def _error_xml(code: str, message: str | None) -> bytes:
        return ERROR_XML.format(code=code, message=message or _MESSAGES.get(code, code)).encode()

    def _send_error(self, method: str, status: int, code: str, message: str | None) -> None:
        body = self._error_xml(code, message)
        self._send(status, [("Content-Type", "application/xml")], body, head=method == "HEAD")

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes,
              reason: str | None = None, head: bool = False) -> None:
        out = [f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Status')}"]
        out += [f"{k}: {v}" for k, v in headers if k.lower() not in _HOP]
        if not head:
            out.append(f"Content-Length: {len(body)}")
        else:
            length = next((v for k, v in headers if k.lower() == "content-length"), "0")
            out.append(f"Content-Length: {length}")
        self.wfile.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        if not head and body:
            self.wfile.write(body)

    def _reset(self) -> None:
        # SO_LINGER 0: close sends RST, as a dropped connection in the wild does.
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass


class FaultProxy:
    """Start with `start()` (or as a context manager); `url` is the endpoint
    to give the engine or the CLI."""

    def __init__(self, upstream: str, *, tls: ssl.SSLContext | None = None,
                 seed: int = 0, forget_completed: bool = False) -> None:
        # forget_completed: answer like S3 after a Complete or Abort (NoSuchUpload
        # for that upload id), where moto keeps answering a completed upload.
        self.forget_completed = forget_completed
        up = urlsplit(upstream)
        self._up_host, self._up_port = up.hostname or "127.0.0.1", up.port or 80
        self._server = _Server(self, tls)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="faultproxy", daemon=True)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._conns: set[socket.socket] = set()
        self.faults: list[Fault] = []
        self.injected: list[tuple[str, str, int | None]] = []  # (op, action, part)
        self.injected_keys: list[tuple[str, str, str]] = []  # (op, object key, action)
        self.forwarded: list[Forwarded] = []
        self._received_by_op: dict[str, int] = {}
        self.gone: set[str] = set()  # upload ids answered with NoSuchUpload from now on
        self._tls = tls
        self._blackhole = threading.Event()
        self.blackholed: list[str] = []  # operations of the requests held unanswered
        self.refusing = False
        # TLS faults (tls mode only), for new connections: close each before
        # the handshake, or present another certificate.
        self.tls_reset = False
        self.tls_swap: ssl.SSLContext | None = None
        # Checks each request's signature as a store would its credentials
        # (moto accepts any key): False answers 400 ExpiredToken.
        self.authorize: Callable[[Request], bool] | None = None
        self.rejected: list[str] = []  # operations answered ExpiredToken
        self._aliases: dict[str, str] = {}  # opaque ETag hex -> the server's
        host, port = self._server.server_address[:2]
        self.url = f"{'https' if tls else 'http'}://{host}:{port}"

    # -- scripting -----------------------------------------------------------

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            for f in self.faults:
                f.release.set()
            self.faults.clear()

    def _match(self, req: Request) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if (f.times is not None and f.hits >= f.times) or not f.matches(req):
                    continue
                f.seen += 1
                if f.seen <= f.skip or (f.share < 1.0 and self._rng.random() >= f.share):
                    continue
                f.hits += 1
                self.injected.append((req.op, f.action, req.part))
                self.injected_keys.append((req.op, req.key, f.action))
                return f
        return None

    # -- what reached the server -------------------------------------------

    def count(self, op: str, status: int | None = 200) -> int:
        with self._lock:
            return sum(1 for f in self.forwarded
                       if f.op == op and (status is None or f.status == status))

    def body_bytes(self, ops: tuple[str, ...] = ("UploadPart", "PutObject")) -> int:
        """Body bytes of requests the server accepted (2xx)."""
        with self._lock:
            return sum(f.body_bytes for f in self.forwarded if f.op in ops and f.status < 300)

    def received_bytes(self, ops: tuple[str, ...] = ("UploadPart", "PutObject")) -> int:
        """Body bytes that reached the proxy, answered or not (all sends)."""
        with self._lock:
            return sum(n for op, n in self._received_by_op.items() if op in ops)

    def _received(self, op: str, n: int) -> None:
        with self._lock:
            self._received_by_op[op] = self._received_by_op.get(op, 0) + n

    def injected_count(self, action: str | None = None) -> int:
        with self._lock:
            return sum(1 for _, a, _ in self.injected if action is None or a == action)

    # -- outages -----------------------------------------------------------

    def refuse(self) -> None:
        """Stop listening (connections refused) and reset open connections."""
        self.refusing = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self.drop_connections()

    def accept(self) -> None:
        """Listen again on the same port (the network is back)."""
        port = int(self.url.rsplit(":", 1)[1])
        self._server = _Server(self, self._tls, port)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="faultproxy", daemon=True)
        self.refusing = False
        self._thread.start()

    def drop_connections(self) -> None:
        """Reset the open connections (the clients reconnect: a new handshake)."""
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def blackhole(self) -> None:
        self._blackhole.set()

    def unblackhole(self) -> None:
        self._blackhole.clear()

    def _holes(self, op: str, counted: bool = True) -> bool:
        """Hold a request while blackholed; True when it was held."""
        if not self._blackhole.is_set():
            return False
        if counted:
            with self._lock:
                self.blackholed.append(op)
        while self._blackhole.is_set() and not self._stopping.wait(0.05):
            pass
        return True

    # -- plumbing ----------------------------------------------------------

    def _opaque(self, etag: str) -> str:
        real = etag.strip('"')
        fake = hashlib.md5(f"kms:{real}".encode()).hexdigest()
        with self._lock:
            self._aliases[fake] = real
        return f'"{fake}"'

    def _real_etags(self, body: bytes) -> bytes:
        with self._lock:
            aliases = dict(self._aliases)
        for fake, real in aliases.items():
            body = body.replace(fake.encode(), real.encode())
        return body

    def _forward(self, req: Request, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self._up_host, self._up_port, timeout=60)
        try:
            headers = {k: v for k, v in req.headers.items() if k not in _HOP}
            if body or req.method in ("PUT", "POST"):
                headers["content-length"] = str(len(body))
            conn.request(req.method, req.target, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            result = resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()
        with self._lock:
            self.forwarded.append(Forwarded(req.op, req.upload_id, req.part, len(body),
                                            result[0], req.key))
        return result

    def _abort_upstream(self, req: Request) -> None:
        """The server loses the upload (an abort or expiry elsewhere)."""
        path = f"/{req.bucket}/{req.key}?uploadId={req.upload_id}"
        conn = http.client.HTTPConnection(self._up_host, self._up_port, timeout=30)
        try:
            auth = {"authorization": req.headers.get("authorization", "")}
            conn.request("DELETE", path, headers=auth)
            conn.getresponse().read()
        finally:
            conn.close()

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.clear()
        if not self.refusing:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:  # wake handler threads blocked on idle keep-alive sockets
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition from a non-Qt test (subprocess output, server state)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)
