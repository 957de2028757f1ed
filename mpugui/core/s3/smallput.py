"""PutObject for small files without botocore's per-request machinery.

A folder of small files is latency- and CPU-bound: botocore spends ~1 ms of
Python per request (events, parameter validation, endpoint rules, signing,
response parsing), which caps a 2-core machine near 1,000 files a second
whatever the network does. Here the route to a bucket (URL, region, whether
the payload is signed) is learnt once from botocore itself (one PutObject it
prepares but never sends), and each file then costs a SigV4 signature over a
handful of headers; core/s3/putloop.py sends it.

Anything unusual goes back to botocore: a proxy, a redirect to another
region, a store that answers in a way this module does not know. Errors are
raised as botocore's exceptions, so errors.describe() and is_transient()
treat both paths alike.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import ssl
import threading
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.exceptions as bx
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from mpugui.core.s3.endpoint import Endpoint

log = logging.getLogger("mpugui.s3")

MAX_SIZE = 1024 * 1024  # larger bodies: botocore (its cost is small next to the send)
_UNSIGNED = "UNSIGNED-PAYLOAD"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# as botocore: every header is signed but these (and the signature itself)
_SPACES = re.compile(r"^\s|\s$|\s\s|[\t\r\n]")  # values SigV4 must trim or squeeze
_UNSIGNED_HEADERS = frozenset({"expect", "transfer-encoding", "user-agent", "x-amzn-trace-id",
                               "authorization"})


class NotForThisRoute(Exception):
    """The request must go through botocore (a redirect, an unknown answer)."""


@dataclass(frozen=True)
class Route:
    scheme: str
    netloc: str  # host[:port], as the Host header
    base: str  # the URL path before the key, already encoded ("/bucket/" or "/")
    region: str
    sign_payload: bool


Tls = tuple[bool, str | None]  # verify the server's certificate; against which CA file


class _Raw:
    """Enough of a urllib3 response for botocore to read an empty body."""

    def stream(self, *_a: Any, **_k: Any) -> Any:
        return iter(())

    def read(self, *_a: Any, **_k: Any) -> bytes:
        return b""


def learn_route(client: Any, bucket: str) -> Route:
    """Ask botocore how it would send a PutObject to `bucket` (its endpoint
    rules, addressing style and signing region), without sending it."""
    key = f".mpugui-route-{uuid.uuid4().hex}"
    seen: dict[str, Any] = {}

    def capture(request: Any, **_: Any) -> AWSResponse | None:
        if key not in request.url:
            return None  # another thread's real request on the same client
        seen["url"], seen["headers"] = request.url, dict(request.headers)
        return AWSResponse(request.url, 200, HTTPHeaders.from_dict({"ETag": '"0"'}), _Raw())

    event = "before-send.s3.PutObject"
    client.meta.events.register_first(event, capture, unique_id=key)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=b"")
    finally:
        client.meta.events.unregister(event, unique_id=key)
    url = urlsplit(seen["url"])
    encoded = quote(key, safe="/~")
    if not url.path.endswith(encoded):
        raise NotForThisRoute(f"unexpected URL {seen['url']}")
    auth = str(_header(seen["headers"], "Authorization") or "")
    try:  # Credential=AKID/20261201/us-east-1/s3/aws4_request
        region = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[2]
    except IndexError as exc:
        raise NotForThisRoute("not signed with SigV4") from exc
    payload = str(_header(seen["headers"], "X-Amz-Content-SHA256") or _UNSIGNED)
    return Route(url.scheme, url.netloc, url.path[:-len(encoded)], region,
                 sign_payload=payload != _UNSIGNED)


def _header(headers: dict[str, Any], name: str) -> Any:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v.decode() if isinstance(v, bytes) else v
    return None


def proxied(route: Route) -> bool:
    proxies = urllib.request.getproxies()
    host = route.netloc.rsplit(":", 1)[0]
    return bool(proxies.get(route.scheme) or proxies.get("all")) and \
        not urllib.request.proxy_bypass(host)


class Signer:
    """SigV4 for S3 requests (the part of botocore's signer a PUT needs)."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str, str], bytes] = {}
        self._last: tuple[int, str] = (-1, "")

    def sign(self, method: str, route: Route, path: str, headers: dict[str, str],
             payload_hash: str, creds: Any, now: int) -> None:
        """Sign for `now`, in whole seconds since the epoch."""
        if now != self._last[0]:  # a folder signs thousands a second: format once
            self._last = (now, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)))
        amz_date = self._last[1]
        day = amz_date[:8]
        headers["x-amz-date"] = amz_date
        headers["x-amz-content-sha256"] = payload_hash
        if creds.token:
            headers["x-amz-security-token"] = creds.token
        signed = {"host": route.netloc}
        for k, v in headers.items():
            name = k.lower()
            if name not in _UNSIGNED_HEADERS:
                v = str(v)
                signed[name] = " ".join(v.split()) if _SPACES.search(v) else v
        names = sorted(signed)
        canonical = "\n".join((method, path, "", *(f"{n}:{signed[n]}" for n in names), "",
                               ";".join(names), payload_hash))
        scope = f"{day}/{route.region}/s3/aws4_request"
        to_sign = "\n".join(("AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()))
        # hmac.digest: the one-shot C path (hmac.new costs several times more)
        signature = hmac.digest(self._key(creds.secret_key, day, route.region),
                                to_sign.encode(), "sha256").hex()
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}")

    def _key(self, secret: str, day: str, region: str) -> bytes:
        cached = self._keys.get((secret, day, region))
        if cached is None:
            k = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
            for part in (region, "s3", "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self._keys = {(secret, day, region): k}  # one day, region, secret at a time
            cached = k
        return cached


class SmallPut:
    """Routes (learnt once per endpoint and bucket) and signed requests for
    the small files core/s3/putloop.py sends."""

    def __init__(self) -> None:
        self._routes: dict[tuple[Endpoint, str], Route | None] = {}
        self._lock = threading.Lock()
        self._signer = Signer()
        self._ssl: dict[Tls, ssl.SSLContext] = {}
        self._tls: dict[Endpoint, Tls] = {}

    def route(self, client: Any, endpoint: Endpoint, bucket: str) -> Route | None:
        """How to reach `bucket`, or None: use botocore (learnt once)."""
        key = (endpoint, bucket)
        with self._lock:
            if key in self._routes:
                return self._routes[key]
        try:
            route: Route | None = learn_route(client, bucket)
            if route is not None and proxied(route):
                route = None
        except Exception:  # any surprise: botocore keeps this bucket
            log.info("Small files to %s go through botocore", bucket, exc_info=True)
            route = None
        with self._lock:
            self._routes[key] = route
        return route

    def give_up(self, endpoint: Endpoint, bucket: str) -> None:
        with self._lock:
            self._routes[(endpoint, bucket)] = None

    def request(self, route: Route, creds: Any, key: str, size: int,
                headers: dict[str, str], payload_hash: str | None) -> tuple[str, bytes]:
        """A signed PutObject's URL and its request line and headers."""
        path = route.base + quote(key, safe="/~")
        headers = dict(headers)
        headers["Content-Length"] = str(size)
        if not route.sign_payload:
            payload_hash = _UNSIGNED
        elif payload_hash is None:
            payload_hash = _EMPTY_SHA256 if size == 0 else _UNSIGNED
        self._signer.sign("PUT", route, path, headers, payload_hash, creds, int(time.time()))
        lines = [f"PUT {path} HTTP/1.1", f"Host: {route.netloc}"]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        lines.append("\r\n")
        return f"{route.scheme}://{route.netloc}{path}", "\r\n".join(lines).encode("latin-1")

    def tls(self, endpoint: Endpoint) -> Tls:
        found = self._tls.get(endpoint)
        if found is None:
            found = self._tls[endpoint] = tls_of(endpoint)
        return found

    def ssl_context(self, endpoint: Endpoint) -> ssl.SSLContext:
        return self.context_for(self.tls(endpoint))

    def context_for(self, tls: Tls) -> ssl.SSLContext:
        with self._lock:
            ctx = self._ssl.get(tls)
            if ctx is None:
                verify, cafile = tls
                ctx = ssl.create_default_context(cafile=cafile) if verify else \
                    ssl._create_unverified_context()
                self._ssl[tls] = ctx
        return ctx


def tls_of(endpoint: Endpoint) -> Tls:
    """An endpoint's TLS settings, its CA file resolved (botocore's default
    bundle when none is set), so another process can build the same context."""
    if not endpoint.verify_tls:
        return (False, None)
    if endpoint.ca_bundle:
        return (True, endpoint.ca_bundle)
    from botocore.httpsession import get_cert_path

    return (True, get_cert_path(True))


def client_error(status: int, reason: str, headers: dict[str, str], data: bytes,
                 op: str) -> Exception:
    """botocore's exception for an S3 error answer (so errors.describe() and
    is_transient() see no difference), or NotForThisRoute for a redirect."""
    if status in (301, 302, 307, 308):
        return NotForThisRoute(f"redirected ({status})")
    code, message = str(status), reason
    try:
        root = ET.fromstring(data) if data else None
        if root is not None:
            code = root.findtext("Code") or code
            message = root.findtext("Message") or message
    except ET.ParseError:
        pass
    if code in ("AuthorizationHeaderMalformed", "PermanentRedirect", "TemporaryRedirect",
                "IllegalLocationConstraintException"):
        return NotForThisRoute(code)  # another region: botocore's redirector knows
    # The metadata botocore's parser fills in (its readers default the same way).
    return bx.ClientError({"Error": {"Code": code, "Message": message},
                           "ResponseMetadata": {
                               "RequestId": headers.get("x-amz-request-id", ""),
                               "HostId": headers.get("x-amz-id-2", ""),
                               "HTTPStatusCode": status, "HTTPHeaders": headers,
                               "RetryAttempts": 0}}, op)
