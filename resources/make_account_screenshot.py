"""Render the README's "All buckets" screenshot offscreen: a real scan of a
local moto server (127.0.0.1) holding buckets in two regions, uploads of
different sizes, one bucket already protected by a lifecycle rule.

    python resources/make_account_screenshot.py [--out resources/screenshots]

moto dates every upload 2010-11-10, so the view's clock is set to ten days
later: the bars show the "older than a week" colour.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from make_screenshots import SIZE, pump, save, settle

NOW = datetime(2010, 11, 20, tzinfo=timezone.utc)
MiB = 1024 * 1024
# bucket: (region, [upload sizes in MiB])
BUCKETS = {
    "media-masters": ("us-east-1", [96, 64, 40, 24]),
    "nightly-backups": ("us-east-1", [48, 32, 16, 8, 8]),
    "eu-analytics": ("eu-west-1", [40, 12]),
    "eu-logs": ("eu-west-1", [6, 3, 2]),
    "web-assets": ("us-east-1", [1]),
    "static-site": ("us-east-1", []),
}


def populate(url: str) -> None:
    import boto3

    for name, (region, sizes) in BUCKETS.items():
        s3 = boto3.client("s3", endpoint_url=url, region_name=region)
        extra = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **extra)
        for i, size in enumerate(sizes):
            key = f"upload-{i:02d}.bin"
            uid = s3.create_multipart_upload(Bucket=name, Key=key)["UploadId"]
            s3.upload_part(Bucket=name, Key=key, UploadId=uid, PartNumber=1,
                           Body=b"\0" * (size * MiB))
    boto3.client("s3", endpoint_url=url, region_name="eu-west-1") \
        .put_bucket_lifecycle_configuration(Bucket="eu-logs", LifecycleConfiguration={
            "Rules": [{"ID": "abort-7", "Status": "Enabled", "Filter": {"Prefix": ""},
                       "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).parent / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = tempfile.mkdtemp(prefix="mpugui-shots-")
    os.environ.update(MPUGUI_HOME=home, AWS_ACCESS_KEY_ID="shots",
                      AWS_SECRET_ACCESS_KEY="shots")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer
    from PySide6.QtWidgets import QApplication

    from mpugui.core.accounts import Account, AccountStore
    from mpugui.core.journal.store import Journal
    from mpugui.core.s3.endpoint import ClientFactory
    from mpugui.engine.tasks import TaskRunner
    from mpugui.ui.uploads.all_buckets_tab import AccountView

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    app = QApplication.instance() or QApplication([])
    runner = TaskRunner()
    journal = Journal(Path(home) / "journal.sqlite3")
    try:
        populate(url)
        store = AccountStore()
        store.save(Account("Local store", endpoint_url=url, region="us-east-1"))
        view = AccountView(store, runner, ClientFactory(), journal, now=lambda: NOW)
        view.set_account("Local store")
        view.resize(*SIZE)
        view.show()
        view.start_scan()
        pump(lambda: not view.scanning, 120)
        row = next(r for r in range(view.proxy.rowCount())
                   if view.proxy.index(r, 0).data() == "nightly-backups")
        view.table.selectRow(row)
        settle(0.5)
        save(view, out, "account_view.png")
        view.close()
        app.processEvents()
    finally:
        runner.shutdown()
        journal.close()
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
