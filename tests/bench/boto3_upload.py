"""The boto3 competitor, run as its own process so its CPU and RSS are its
own: `upload_file` (s3transfer's TransferManager, what `aws s3 cp` uses).

Without options it is boto3 exactly as a user calls it; --part-size and
--concurrency give it the same part size and parallelism as mpugui (and a
connection pool that large, or its threads would queue for connections).
"""

from __future__ import annotations

import argparse
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("bucket")
    p.add_argument("key")
    p.add_argument("--endpoint-url", required=True)
    p.add_argument("--part-size", type=int)
    p.add_argument("--concurrency", type=int)
    args = p.parse_args(argv)
    if args.part_size or args.concurrency:
        conc = args.concurrency or 10
        client = boto3.client("s3", endpoint_url=args.endpoint_url,
                              config=Config(max_pool_connections=max(10, conc)))
        part = args.part_size or 8 * 1024 * 1024
        config = TransferConfig(multipart_threshold=part, multipart_chunksize=part,
                                max_concurrency=conc)
        client.upload_file(args.file, args.bucket, args.key, Config=config)
    else:
        boto3.client("s3", endpoint_url=args.endpoint_url).upload_file(
            args.file, args.bucket, args.key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
