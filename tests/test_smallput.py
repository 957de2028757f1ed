"""The small-file PutObject path: its SigV4 signature is botocore's, its
route is the one botocore would use, and it uploads real objects."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mpugui.core.endpoint import ClientFactory, Endpoint
from mpugui.core.smallput import Route, Signer, SmallPut, learn_route
from mpugui.core.transfer.body import Flag, PartBody

KEY_PATH = "/bucket/some%20dir/k%C3%A9y%2Bx%3D1%26.txt"  # "some dir/kéy+x=1&.txt"


def test_signature_equals_botocores() -> None:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token")
    headers = {"Content-Type": "text/plain", "x-amz-checksum-crc32c": "yZRlqg==",
               "x-amz-storage-class": "STANDARD_IA", "If-None-Match": "*"}
    theirs = AWSRequest("PUT", f"http://127.0.0.1:9000{KEY_PATH}", data=b"hello",
                        headers=dict(headers))
    S3SigV4Auth(creds, "s3", "eu-west-3").add_auth(theirs)
    when = dt.datetime.strptime(theirs.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.timezone.utc)
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


def test_puts_real_objects_from_many_threads(s3, bucket: str, moto_url: str) -> None:
    endpoint = Endpoint(endpoint_url=moto_url)
    factory = ClientFactory(4)
    small = SmallPut()
    route = small.route(factory.client(endpoint), endpoint, bucket)
    assert route is not None
    creds = factory.credentials(endpoint)
    bodies = {f"dir/file {i}+é.bin": bytes([i]) * (i * 100) for i in range(40)}
    etags: dict[str, str] = {}

    def send(key: str, data: bytes) -> None:
        body = PartBody(memoryview(data), Flag())
        etags[key] = small.put(route, creds, endpoint, key, body, len(data), {}, None)

    threads = [threading.Thread(target=send, args=item) for item in bodies.items()]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    small.close()
    for key, data in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == data and got["ETag"] == etags[key]
