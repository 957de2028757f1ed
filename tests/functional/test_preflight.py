"""The connection pre-flight against real HTTP servers: moto (everything
allowed) and a small S3-protocol server that answers like a store whose
policy denies ListBuckets, ListBucketMultipartUploads and AbortMultipartUpload
(moto cannot enforce such a policy per request)."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from mpugui.core.errors import MpuguiError
from mpugui.core.preflight import (
    ABORT_UPLOADS,
    BUCKET,
    CREDENTIALS,
    LIST_UPLOADS,
    Check,
    make_test_client,
    preflight,
)
from mpugui.core.s3.endpoint import Endpoint
from tests.faultproxy import FaultProxy
from tests.tlscerts import self_signed, server_context

BAD_KEY = "AKIABADBADBADBAD0000"


class _DenyingS3(BaseHTTPRequestHandler):
    """Knows one bucket, 'allowed-bucket'; refuses the calls a restrictive
    bucket policy refuses, with the error bodies S3 sends."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _error(self, status: int, code: str) -> None:
        body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                f"<Message>{code}</Message><RequestId>1</RequestId></Error>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _bad_key(self) -> bool:
        if BAD_KEY in self.headers.get("Authorization", ""):
            self._error(403, "InvalidAccessKeyId")
            return True
        return False

    def do_GET(self) -> None:
        if not self._bad_key():
            self._error(403, "AccessDenied")  # ListBuckets and ?uploads alike

    def do_DELETE(self) -> None:
        if not self._bad_key():
            self._error(403, "AccessDenied")

    def do_HEAD(self) -> None:
        if self._bad_key():
            return
        if self.path.split("?")[0].strip("/") == "allowed-bucket":
            self.send_response(200)
            self.send_header("x-amz-bucket-region", "us-east-1")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._error(404, "NoSuchBucket")


@pytest.fixture
def denying_s3() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DenyingS3)
    thread = threading.Thread(target=server.serve_forever, name="denying-s3", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _by_name(checks):
    return {c.name: c for c in checks}


def test_everything_allowed_on_moto(endpoint: Endpoint, bucket: str) -> None:
    checks = preflight(make_test_client(endpoint), bucket)
    assert [c.name for c in checks] == [CREDENTIALS, BUCKET, LIST_UPLOADS, ABORT_UPLOADS]
    assert all(c.ok is True for c in checks), checks
    by = _by_name(checks)
    assert "credentials are valid" in by[CREDENTIALS].sentence
    assert f"'{bucket}' is reachable" in by[BUCKET].sentence
    assert "allowed" in by[LIST_UPLOADS].sentence
    assert "allowed" in by[ABORT_UPLOADS].sentence


def test_abort_check_leaves_real_uploads_alone(s3, endpoint: Endpoint, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="keep/me.bin")["UploadId"]
    checks = preflight(make_test_client(endpoint), bucket)
    assert _by_name(checks)[LIST_UPLOADS].ok is True
    assert "at least one in progress" in _by_name(checks)[LIST_UPLOADS].sentence
    remaining = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]]
    assert remaining == [upload]


def test_unknown_bucket_is_a_sentence(endpoint: Endpoint) -> None:
    name = f"missing-{uuid.uuid4().hex[:10]}"
    by = _by_name(preflight(make_test_client(endpoint), name))
    assert by[CREDENTIALS].ok is True
    assert by[BUCKET].ok is False
    assert by[BUCKET].sentence == f"The bucket '{name}' does not exist."
    assert by[LIST_UPLOADS].ok is None and by[ABORT_UPLOADS].ok is None
    assert "not reachable" in by[ABORT_UPLOADS].sentence


def test_without_a_bucket_only_credentials_are_tested(endpoint: Endpoint) -> None:
    by = _by_name(preflight(make_test_client(endpoint), None))
    assert by[CREDENTIALS].ok is True
    for name in (BUCKET, LIST_UPLOADS, ABORT_UPLOADS):
        assert by[name].ok is None
        assert "enter a bucket" in by[name].sentence


def test_bucket_in_another_region_is_named(s3, endpoint: Endpoint) -> None:
    name = f"eu-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    by = _by_name(preflight(make_test_client(endpoint.with_(region="us-east-1")), name))
    assert by[BUCKET].ok is True
    assert "It is in eu-west-1 while the account's region is us-east-1" in by[BUCKET].sentence


def test_denied_permissions_are_sentences(denying_s3: str) -> None:
    client = make_test_client(Endpoint(endpoint_url=denying_s3, region="us-east-1",
                                       path_style=True))
    by = _by_name(preflight(client, "allowed-bucket"))
    assert by[CREDENTIALS].ok is True
    assert "listing buckets is not allowed" in by[CREDENTIALS].sentence
    assert by[BUCKET].ok is True
    assert by[LIST_UPLOADS].ok is False
    assert "s3:ListBucketMultipartUploads" in by[LIST_UPLOADS].sentence
    assert by[ABORT_UPLOADS].ok is False
    assert "s3:AbortMultipartUpload" in by[ABORT_UPLOADS].sentence


def test_rejected_key_stops_the_checks(denying_s3: str) -> None:
    session = boto3.session.Session(aws_access_key_id=BAD_KEY, aws_secret_access_key="x",
                                    region_name="us-east-1")
    client = session.client("s3", endpoint_url=denying_s3)
    by = _by_name(preflight(client, "allowed-bucket"))
    assert by[CREDENTIALS].ok is False
    assert "access key ID is not known" in by[CREDENTIALS].sentence
    assert all(by[n].ok is None for n in (BUCKET, LIST_UPLOADS, ABORT_UPLOADS))


def _closed_port() -> int:
    """A loopback port that was just free: nothing listens on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _credentials(url: str, bucket: str = "any-bucket", **endpoint: object) -> Check:
    ep = Endpoint(endpoint_url=url, region="us-east-1", **endpoint)  # type: ignore[arg-type]
    by = _by_name(preflight(make_test_client(ep), bucket))
    assert all(by[n].ok is None for n in (BUCKET, LIST_UPLOADS, ABORT_UPLOADS)), by
    assert by[CREDENTIALS].ok is False
    return by[CREDENTIALS]


def test_refused_port_says_nothing_listens() -> None:
    port = _closed_port()
    assert _credentials(f"http://127.0.0.1:{port}").sentence == (
        f"The endpoint could not be reached (http://127.0.0.1:{port}/): the connection was "
        f"refused (nothing is listening on port {port} of 127.0.0.1).")


def test_unknown_host_name_is_named() -> None:
    # .invalid never resolves (RFC 6761).
    assert _credentials("http://s3.no-such-host.invalid:9000").sentence == (
        "The endpoint could not be reached (http://s3.no-such-host.invalid:9000/): the host "
        "name 's3.no-such-host.invalid' was not found (check its spelling, or DNS).")


def test_https_to_a_plain_http_port(moto_url: str) -> None:
    assert _credentials(moto_url.replace("http://", "https://")).sentence == (
        "The endpoint does not answer TLS on this port: if it is plain HTTP, the endpoint "
        "URL should begin with http://.")


@pytest.fixture
def tls_store(moto_url: str, tmp_path) -> Iterator[tuple[FaultProxy, str]]:
    """moto behind TLS with a self-signed certificate for 127.0.0.1."""
    cert, key = self_signed(tmp_path / "tls")
    with FaultProxy(moto_url, tls=server_context(cert, key)) as proxy:
        yield proxy, str(cert)


def test_tls_failures_say_which(tls_store, bucket: str) -> None:
    proxy, ca = tls_store
    assert _credentials(proxy.url).sentence == (
        "The server's TLS certificate could not be verified (self-signed certificate). Set a "
        "CA bundle for this account if it uses a private CA.")
    by_name = proxy.url.replace("127.0.0.1", "localhost")  # the certificate names 127.0.0.1
    assert _credentials(by_name, ca_bundle=ca).sentence == (
        "The server's TLS certificate could not be verified: it is not valid for 'localhost'. "
        "Use the host name the certificate names.")
    plain = proxy.url.replace("https://", "http://")
    assert _credentials(plain).sentence == (
        "The server closed the connection. If the endpoint uses HTTPS, its URL should begin "
        "with https://.")
    # With the CA bundle, everything passes.
    ep = Endpoint(endpoint_url=proxy.url, region="us-east-1", ca_bundle=ca)
    assert all(c.ok for c in preflight(make_test_client(ep), bucket))


def test_an_endpoint_that_never_answers_times_out(moto_url: str) -> None:
    with FaultProxy(moto_url) as proxy:
        proxy.blackhole()  # connections are accepted, requests never answered
        ep = Endpoint(endpoint_url=proxy.url, region="us-east-1")
        by = _by_name(preflight(make_test_client(ep, read_timeout=1), "any-bucket"))
        proxy.unblackhole()
    host = proxy.url.removeprefix("http://")
    assert by[CREDENTIALS].ok is False
    assert by[CREDENTIALS].sentence == (
        f"The connection to the endpoint timed out: {host} accepted the connection but did "
        "not answer within 1 s.")


def test_an_invalid_bucket_name_is_a_sentence(endpoint: Endpoint) -> None:
    by = _by_name(preflight(make_test_client(endpoint), "Bad_Bucket!"))
    assert by[CREDENTIALS].ok is True
    assert by[BUCKET].ok is False
    assert by[BUCKET].sentence == ("'Bad_Bucket!' is not a valid bucket name: 3 to 255 "
                                   "letters, digits, dots or hyphens, without '/' or spaces.")


@pytest.fixture
def checking_moto(monkeypatch) -> Iterator[tuple[str, str, str]]:
    """A moto server of its own that checks signatures against its IAM users
    (moto's INITIAL_NO_AUTH_ACTION_COUNT): (url, key id, secret) of a user
    allowed everything, with one bucket, 'checked-bucket'."""
    from moto import settings
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    kw = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "setup",
          "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", **kw)
    iam.create_user(UserName="tester")
    iam.put_user_policy(UserName="tester", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="tester")["AccessKey"]
    boto3.client("s3", **kw).create_bucket(Bucket="checked-bucket")
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    yield url, key["AccessKeyId"], key["SecretAccessKey"]
    monkeypatch.undo()
    server.stop()


def test_bad_keys_on_a_store_that_checks_them(checking_moto) -> None:
    url, key_id, secret = checking_moto

    def test(kid: str, secret: str) -> dict[str, Check]:
        ep = Endpoint(account="typed", endpoint_url=url, region="us-east-1",
                      access_key_id=kid)
        return _by_name(preflight(make_test_client(ep, secret), "checked-bucket"))

    assert all(c.ok for c in test(key_id, secret).values())
    wrong_secret = test(key_id, "not-the-secret")
    assert wrong_secret[CREDENTIALS].ok is False
    assert wrong_secret[CREDENTIALS].sentence == (
        "The secret key is wrong (the server rejected the request signature).")
    unknown = test("AKIAUNKNOWNUNKNOWN00", secret)
    assert unknown[CREDENTIALS].ok is False
    assert unknown[CREDENTIALS].sentence == (
        "The access key ID is not known to the server. Check the account's key.")
    assert all(unknown[n].ok is None for n in (BUCKET, LIST_UPLOADS, ABORT_UPLOADS))


def test_secret_from_the_form_is_used(moto_url: str, bucket: str) -> None:
    # An access-key endpoint whose secret is not in keyring: the form's
    # secret is passed straight to the client; without it, a sentence.
    ep = Endpoint(account="unsaved", endpoint_url=moto_url, region="us-east-1",
                  access_key_id="AKIAFORMFORMFORM0000")
    assert all(c.ok for c in preflight(make_test_client(ep, "form-secret"), bucket))
    with pytest.raises(MpuguiError, match="not in the keyring"):
        make_test_client(ep)


def test_bad_endpoint_url_is_refused() -> None:
    with pytest.raises(MpuguiError, match="not a valid endpoint URL"):
        make_test_client(Endpoint(endpoint_url="minio.local:9000"))
