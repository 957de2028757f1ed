"""The connection pre-flight against real HTTP servers: moto (everything
allowed) and a small S3-protocol server that answers like a store whose
policy denies ListBuckets, ListBucketMultipartUploads and AbortMultipartUpload
(moto cannot enforce such a policy per request)."""

from __future__ import annotations

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
    make_test_client,
    preflight,
)
from mpugui.core.s3.endpoint import Endpoint

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


def test_unreachable_endpoint(tmp_path) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    by = _by_name(preflight(make_test_client(Endpoint(endpoint_url="http://127.0.0.1:1")),
                            "any-bucket"))
    assert by[CREDENTIALS].ok is False
    assert "could not be reached" in by[CREDENTIALS].sentence


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
