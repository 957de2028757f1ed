"""The CRT competitor: awscrt's S3 client, as boto3's CRT stack builds it.

boto3.s3.transfer's CRT path (boto3/crt.py) insists on https, so this drives
the same client directly: `s3transfer.crt.create_s3_crt_client` (the function
boto3 uses: its thread count, throughput target and 8 MiB parts) with TLS off,
then `S3Client.make_request(PUT_OBJECT, send_filepath=...)` per file (the
CRT's auto-ranged put: multipart above its threshold) with the CRC32 trailing
checksum s3transfer asks for by default. A folder is one request per file,
all submitted at once; the CRT schedules them (as CRTTransferManager does).

    python -m tests.bench.crt_upload FILE_OR_DIR BUCKET KEY_OR_PREFIX --endpoint-url URL
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from urllib.parse import quote, urlsplit

from awscrt.auth import AwsCredentialsProvider
from awscrt.http import HttpHeaders, HttpRequest
from awscrt.s3 import (
    S3ChecksumAlgorithm,
    S3ChecksumConfig,
    S3ChecksumLocation,
    S3RequestType,
)
from s3transfer.crt import create_s3_crt_client


def files_of(src: Path, key: str) -> list[tuple[str, str, int]]:
    if src.is_file():
        return [(str(src), key, src.stat().st_size)]
    out = []
    prefix = key if not key or key.endswith("/") else key + "/"
    for root, _dirs, names in os.walk(src):
        for name in names:
            p = os.path.join(root, name)
            out.append((p, prefix + os.path.relpath(p, src).replace(os.sep, "/"),
                        os.path.getsize(p)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("source")
    p.add_argument("bucket")
    p.add_argument("key")
    p.add_argument("--endpoint-url", required=True)
    p.add_argument("--max-inflight", type=int, default=10_000,
                   help="files submitted to the CRT at once (it queues the rest itself)")
    args = p.parse_args(argv)
    host = urlsplit(args.endpoint_url).netloc
    creds = AwsCredentialsProvider.new_static(os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                                              os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
    client = create_s3_crt_client("us-east-1", creds, use_ssl=False)
    checksum = S3ChecksumConfig(algorithm=S3ChecksumAlgorithm.CRC32,
                                location=S3ChecksumLocation.TRAILER)
    jobs = files_of(Path(args.source), args.key)
    errors: list[str] = []
    slots = threading.Semaphore(args.max_inflight)
    pending = []

    for path, key, size in jobs:
        slots.acquire()
        headers = HttpHeaders([("Host", host), ("Content-Length", str(size)),
                               ("Content-Type", "application/octet-stream")])
        req = HttpRequest("PUT", f"/{args.bucket}/{quote(key, safe='/~')}", headers)

        def done(error=None, status_code=None, key=key, **_kw) -> None:
            if error is not None or (status_code or 200) >= 300:
                errors.append(f"{key}: {error or status_code}")
            slots.release()

        pending.append(client.make_request(type=S3RequestType.PUT_OBJECT, request=req,
                                           send_filepath=path, checksum_config=checksum,
                                           on_done=done))
    for meta in pending:
        meta.finished_future.exception()  # waits; failures are in `errors`
    if errors:
        print(f"{len(errors)} failed, e.g. {errors[:3]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
