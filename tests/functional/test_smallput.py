"""The small-file PutObject path: its SigV4 signature is botocore's, its
route is the one botocore would use, and its loop uploads real objects and
reports failures as botocore's exceptions."""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import threading

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.s3.putloop import PutLoop, PutRequest
from mpugui.core.s3.smallput import Route, Signer, SmallPut, learn_route

KEY_PATH = "/bucket/some%20dir/k%C3%A9y%2Bx%3D1%26.txt"  # "some dir/kéy+x=1&.txt"


def test_signature_equals_botocores() -> None:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token")
    headers = {"Content-Type": "text/plain", "x-amz-checksum-crc32c": "yZRlqg==",
               "x-amz-storage-class": "STANDARD_IA", "If-None-Match": "*"}
    theirs = AWSRequest("PUT", f"http://127.0.0.1:9000{KEY_PATH}", data=b"hello",
                        headers=dict(headers))
    S3SigV4Auth(creds, "s3", "eu-west-3").add_auth(theirs)
    when = int(dt.datetime.strptime(theirs.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.timezone.utc).timestamp())
    ours = dict(headers)
    route = Route("http", "127.0.0.1:9000", "/bucket/", "eu-west-3", sign_payload=False)
    # botocore signs the payload over plain http
    Signer().sign("PUT", route, KEY_PATH, ours, hashlib.sha256(b"hello").hexdigest(),
                  creds.get_frozen_credentials(), when)
    assert ours["Authorization"].split("Signature=")[1] == \
        theirs.headers["Authorization"].split("Signature=")[1]


def test_route_is_learnt_from_botocore_without_sending(moto_url: str) -> None:
    client = ClientFactory(4).client(Endpoint(endpoint_url=moto_url, region="us-west-2"))
    route = learn_route(client, "my-bucket")
    host = moto_url.split("//", 1)[1]
    assert route == Route("http", host, "/my-bucket/", "us-west-2", sign_payload=False)
    aws = boto3.client("s3", region_name="eu-central-1")
    assert learn_route(aws, "my-bucket").netloc.startswith("my-bucket.s3.")


class _Source:
    """A PutSource of ready-made requests: what the engine's SmallFiles gives."""

    def __init__(self, items: list[tuple[str, PutRequest]]) -> None:
        self.items = items
        self.total = len(items)
        self.results: dict[str, object] = {}
        self.finished = threading.Event()
        self.batches = 0

    def take(self, n: int) -> list[tuple[str, PutRequest]]:
        taken, self.items = self.items[:n], self.items[n:]
        return taken

    def done(self, results: list[tuple[str, object]]) -> None:
        self.batches += 1
        self.results.update(results)
        if not self.items and len(self.results) == self.total:
            self.finished.set()


def _requests(small: SmallPut, factory: ClientFactory, endpoint: Endpoint, bucket: str,
              bodies: dict[str, bytes]) -> list[tuple[str, PutRequest]]:
    route = small.route(factory.client(endpoint), endpoint, bucket)
    assert route is not None
    creds = factory.credentials(endpoint)

    def refused(_exc: BaseException | None) -> tuple[str, int]:
        raise AssertionError("no fallback expected")

    out = []
    for key, data in bodies.items():
        url, head = small.request(route, creds, key, len(data), {}, None)
        out.append((key, PutRequest(route, head, data, url, refused)))
    return out


def test_loop_puts_real_objects_many_at_once(s3, bucket: str, moto_url: str) -> None:
    endpoint = Endpoint(endpoint_url=moto_url)
    factory = ClientFactory(4)
    bodies = {f"dir/file {i}+é.bin": bytes([i]) * (i * 100) for i in range(60)}
    source = _Source(_requests(SmallPut(), factory, endpoint, bucket, bodies))
    loop = PutLoop(source, limit=16)
    loop.wake()
    assert source.finished.wait(30)
    loop.stop()
    assert source.batches < len(bodies)  # results come back in batches
    for key, data in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=key)
        etag, retries = source.results[key]
        assert got["Body"].read() == data and got["ETag"] == etag and retries == 0


def test_loop_gives_errors_as_botocores(s3, bucket: str, moto_url: str) -> None:
    endpoint = Endpoint(endpoint_url=moto_url)
    factory = ClientFactory(4)
    good = _requests(SmallPut(), factory, endpoint, bucket, {"ok.bin": b"x"})
    bad = _requests(SmallPut(), factory, endpoint, "no-such-bucket-here", {"k": b"y"})
    # A route to a port nobody listens on: refused, as a botocore connection error.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead_route = Route("http", f"127.0.0.1:{port}", "/b/", "us-east-1", sign_payload=False)
    dead = [("dead", PutRequest(dead_route, good[0][1].head, b"x", "http://dead",
                                good[0][1].fallback))]
    source = _Source(good + bad + dead)
    loop = PutLoop(source, limit=4)
    loop.wake()
    assert source.finished.wait(30)
    loop.stop()
    assert isinstance(source.results["ok.bin"], tuple)
    err = source.results["k"]
    assert isinstance(err, ClientError) and err.response["Error"]["Code"] == "NoSuchBucket"
    assert isinstance(source.results["dead"], EndpointConnectionError)


class _HeadOnlyServer:
    """A TCP server on 127.0.0.1 that reads each request's head, sends
    `answer` (if any) and then reads nothing more: what no real store does
    on purpose (an answer before the body, a body never read)."""

    def __init__(self, answer: bytes = b"") -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._answer = answer
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._serve, daemon=True)]
        self._threads[0].start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            th = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(th)
            th.start()

    def _handle(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        got = b""
        while b"\r\n\r\n" not in got:
            more = conn.recv(4096)
            if not more:
                return
            got += more
        if self._answer:
            conn.sendall(self._answer)
        self._stop.wait(30)  # the connection stays open, read no more

    def close(self) -> None:
        self._stop.set()
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for th in self._threads:
            th.join(10)
        for conn in self._conns:
            conn.close()


def _put_through(server: _HeadOnlyServer, n: int, size: int, read_timeout: float = 60
                 ) -> dict[str, object]:
    """`n` PutObjects of `size` bytes through a PutLoop sending one at a time: their results."""
    route = Route("http", f"127.0.0.1:{server.port}", "/b/", "us-east-1", sign_payload=False)
    creds = Credentials("AKID", "SECRET").get_frozen_credentials()

    def refused(_exc: BaseException | None) -> tuple[str, int]:
        raise AssertionError("no fallback expected")

    requests = []
    for i in range(n):
        url, head = SmallPut().request(route, creds, f"k{i}", size, {}, None)
        requests.append((f"k{i}", PutRequest(route, head, b"x" * size, url, refused)))
    source = _Source(requests)
    loop = PutLoop(source, limit=1, read_timeout=read_timeout)
    loop.wake()
    try:
        assert source.finished.wait(20)
    finally:
        loop.stop()
        server.close()
    return source.results


def test_an_answer_before_the_whole_body_closes_its_connection() -> None:
    # The server refuses on the head alone and never reads the 32 MiB body,
    # more than the kernel's buffers take: what is still unsent must not
    # reach the next request's connection.
    server = _HeadOnlyServer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    results = _put_through(server, 2, 32 * 1024 * 1024)
    for key in ("k0", "k1"):
        err = results[key]
        assert isinstance(err, ClientError) and \
            err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert server.accepted == 2  # the second request on a new connection


def test_a_body_the_server_stops_reading_times_out() -> None:
    # The server takes the head and then nothing more: the body fills the
    # socket's buffers and the answer never comes. The read timeout ends it
    # (a transport's close() would wait for the unsent bytes for ever).
    results = _put_through(_HeadOnlyServer(), 1, 4 * 1024 * 1024, read_timeout=1)
    assert isinstance(results["k0"], ReadTimeoutError)
