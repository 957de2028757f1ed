"""The boto3 competitor, run as its own process so its CPU and RSS are its
own: `upload_file` (s3transfer's TransferManager, what `aws s3 cp` uses).

Without options it is boto3 exactly as a user calls it; --part-size and
--concurrency give it the same part size and parallelism as mpugui (and a
connection pool that large, or its threads would queue for connections).

A folder: `upload_file` per file in a plain loop (one client), or with
--pool N the same calls from a ThreadPoolExecutor of N threads sharing one
client whose connection pool holds N.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("file", help="a file, or a folder (uploaded recursively under KEY/)")
    p.add_argument("bucket")
    p.add_argument("key")
    p.add_argument("--endpoint-url", required=True)
    p.add_argument("--part-size", type=int)
    p.add_argument("--concurrency", type=int)
    p.add_argument("--pool", type=int, default=0, help="folder: files uploaded at once")
    args = p.parse_args(argv)
    kwargs: dict = {}
    if args.part_size or args.concurrency:
        conc = args.concurrency or 10
        part = args.part_size or 8 * 1024 * 1024
        kwargs["Config"] = TransferConfig(multipart_threshold=part, multipart_chunksize=part,
                                          max_concurrency=conc)
        config = Config(max_pool_connections=max(10, conc, args.pool))
    else:
        config = Config(max_pool_connections=max(10, args.pool))
    client = boto3.client("s3", endpoint_url=args.endpoint_url, config=config)
    src = Path(args.file)
    if src.is_file():
        client.upload_file(str(src), args.bucket, args.key, **kwargs)
        return 0
    prefix = args.key if not args.key or args.key.endswith("/") else args.key + "/"
    jobs = []
    for root, _dirs, names in os.walk(src):
        for name in names:
            path = os.path.join(root, name)
            jobs.append((path, prefix + os.path.relpath(path, src).replace(os.sep, "/")))
    if args.pool:
        with ThreadPoolExecutor(args.pool) as pool:
            for f in [pool.submit(client.upload_file, path, args.bucket, key, **kwargs)
                      for path, key in jobs]:
                f.result()
    else:
        for path, key in jobs:
            client.upload_file(path, args.bucket, key, **kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
