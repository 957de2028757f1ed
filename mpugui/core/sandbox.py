"""`mpugui --sandbox`: a local S3 server (moto) in this process, so every
feature can be tried without an AWS account.

It listens on 127.0.0.1 only, on a free port. Unless $MPUGUI_HOME is set, it
uses a fresh temporary state directory, so the sandbox never touches the
user's real journal or accounts. It creates a bucket, leaves two or three
multipart uploads unfinished (orphans for the uploads browser to find), and
saves a "Sandbox (local)" account.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpugui.core import secrets
from mpugui.core.accounts import KEYS, Account, AccountStore
from mpugui.core.endpoint import Endpoint
from mpugui.core.errors import MpuguiError
from mpugui.core.units import MiB

log = logging.getLogger("mpugui.sandbox")

ACCOUNT_NAME = "Sandbox (local)"
BUCKET = "sandbox-bucket"
ACCESS_KEY = "sandbox"
SECRET_KEY = "sandbox-secret"
REGION = "us-east-1"

# (key, number of parts already sent) of the uploads left unfinished
ORPHANS = (("backups/2024-photos.tar", 3), ("video/raw-interview.mov", 2),
           ("datasets/sensor-log.parquet", 1))


@dataclass
class Sandbox:
    endpoint_url: str
    bucket: str
    account: Account
    home: Path
    server: Any = field(repr=False)
    temporary_home: bool = False
    keyring_session_only: bool = False
    orphans: list[tuple[str, str]] = field(default_factory=list)  # (key, upload id)

    @property
    def endpoint(self) -> Endpoint:
        return self.account.endpoint()

    def stop(self) -> None:
        try:
            self.server.stop()
        except Exception:  # the server may already be down
            log.debug("Stopping the sandbox server failed", exc_info=True)
        if self.temporary_home:
            # the account went with the temporary home; its secret goes too
            secrets.delete_secret(self.account.name)
            shutil.rmtree(self.home, ignore_errors=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(part_size: int = 5 * MiB) -> Sandbox:
    """Start the server and seed it; raises MpuguiError when moto is missing."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise MpuguiError("The sandbox needs moto. Install it with: "
                          "pip install 'mpugui[sandbox]'") from exc
    import boto3

    temporary = False
    if not os.environ.get("MPUGUI_HOME"):
        os.environ["MPUGUI_HOME"] = tempfile.mkdtemp(prefix="mpugui-sandbox-")
        temporary = True
    home = Path(os.environ["MPUGUI_HOME"])
    home.mkdir(parents=True, exist_ok=True, mode=0o700)

    # one log line per request on the terminal otherwise
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        client = boto3.client("s3", endpoint_url=url, region_name=REGION,
                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        client.create_bucket(Bucket=BUCKET)
        orphans = _seed_orphans(client, part_size)
    except Exception:
        server.stop()
        raise

    account = Account(name=ACCOUNT_NAME, kind=KEYS, access_key_id=ACCESS_KEY, endpoint_url=url,
                      region=REGION, path_style=True)
    session_only = not secrets.keyring_available()
    try:
        AccountStore().save(account, SECRET_KEY, session_only=session_only)
    except secrets.KeyringUnavailable:
        session_only = True
        AccountStore().save(account, SECRET_KEY, session_only=True)
    log.info("Sandbox S3 server at %s with bucket %s", url, BUCKET)
    return Sandbox(url, BUCKET, account, home, server, temporary, session_only, orphans)


def _seed_orphans(client: Any, part_size: int) -> list[tuple[str, str]]:
    """Multipart uploads started and never finished, with a few parts each."""
    rng = random.Random(7)
    # moto keeps one in-memory store per process, shared by every server in
    # it: a second sandbox in the same process (tests) finds the first one's
    # uploads. Start from exactly the seeded set.
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=BUCKET):
        for upload in page.get("Uploads", []):
            client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"],
                                          UploadId=upload["UploadId"])
    made = []
    for key, parts in ORPHANS:
        upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        for number in range(1, parts + 1):
            client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number,
                               Body=rng.randbytes(part_size))
        made.append((key, upload_id))
    return made
