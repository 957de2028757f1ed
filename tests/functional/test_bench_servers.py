"""The benchmark's servers work (tests/bench is not run by the suite; these
few checks are): the sink speaks enough S3 for boto3's multipart upload and
HEAD verification, answers `Expect: 100-continue` at once, and the WAN proxy
really adds latency and caps rates."""

from __future__ import annotations

import hashlib
import socket
import threading
import time

import boto3
from botocore.config import Config

from mpugui.core.s3.checksums import multipart_etag
from tests.bench.sink import SinkServer
from tests.bench.wan import ProxyThread, Shape

MiB = 1024 * 1024


def client(url: str):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}))


def test_sink_multipart_round_trip_with_real_md5_etags() -> None:
    parts = [bytes([i]) * (5 * MiB) for i in range(2)] + [b"tail"]
    with SinkServer(md5=True) as sink:
        s3 = client(sink.url)
        up = s3.create_multipart_upload(Bucket="bench", Key="a/b")["UploadId"]
        etags = [s3.upload_part(Bucket="bench", Key="a/b", UploadId=up, PartNumber=n + 1,
                                Body=data)["ETag"] for n, data in enumerate(parts)]
        assert [e.strip('"') for e in etags] == [hashlib.md5(p).hexdigest() for p in parts]
        listed = s3.list_parts(Bucket="bench", Key="a/b", UploadId=up)["Parts"]
        assert [(p["PartNumber"], p["Size"]) for p in listed] == [
            (1, 5 * MiB), (2, 5 * MiB), (3, 4)]
        done = s3.complete_multipart_upload(
            Bucket="bench", Key="a/b", UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e}
                                       for n, e in enumerate(etags)]})
        head = s3.head_object(Bucket="bench", Key="a/b")
        assert head["ContentLength"] == sum(map(len, parts))
        assert head["ETag"].strip('"') == multipart_etag(etags) == done["ETag"].strip('"')
        assert sink.stats.body_bytes == sum(map(len, parts))
        assert sink.stats.bytes_by_key["bench/a/b"] == sum(map(len, parts))


def test_sink_answers_expect_100_continue_before_the_body() -> None:
    with SinkServer() as sink, socket.create_connection(("127.0.0.1", sink.port), 5) as sock:
        sock.sendall(b"PUT /bench/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(100).startswith(b"HTTP/1.1 100")  # before any body byte
        sock.sendall(b"abc")
        assert b" 200 " in sock.recv(1000)


def test_wan_proxy_adds_latency_and_caps_each_connection_and_the_link() -> None:
    shape = Shape(rtt_ms=200, conn_rate=2 * MiB, link_rate=3 * MiB)
    with SinkServer() as sink, ProxyThread(("127.0.0.1", sink.port), shape) as wan:
        s3 = client(wan.url)
        t0 = time.monotonic()
        s3.put_object(Bucket="bench", Key="small", Body=b"x")
        assert time.monotonic() - t0 >= 0.2  # at least one round trip

        t0 = time.monotonic()
        s3.put_object(Bucket="bench", Key="one", Body=b"x" * MiB)
        one = time.monotonic() - t0
        assert one >= 0.5  # 1 MiB at 2 MiB/s per connection

        def put(key: str) -> None:
            client(wan.url).put_object(Bucket="bench", Key=key, Body=b"y" * (3 * MiB // 2))

        t0 = time.monotonic()
        threads = [threading.Thread(target=put, args=(f"two/{i}",)) for i in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        both = time.monotonic() - t0
        assert both >= 1.0  # 3 MiB over a 3 MiB/s link, though each conn could do 2 MiB/s
        assert sink.objects["bench/two/0"].size == sink.objects["bench/two/1"].size == 3 * MiB // 2
