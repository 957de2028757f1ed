"""mpugui.core.orphans against moto's HTTP server: an account of several
buckets in two regions, one with lifecycle rules, one whose uploads are
denied (the fault proxy answers AWS's AccessDenied); pagination with
botocore's Stubber; the price table's arithmetic; Protect all."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mpugui.core.orphans import bulk, memory
from mpugui.core.orphans.directory import (
    DENIED,
    EXPRESS_REGIONS,
    UNSUPPORTED,
    DirectoryListingError,
    list_directory_buckets,
    regions_to_ask,
)
from mpugui.core.orphans.prices import AWS_PRICES, STORAGE_CLASSES, PriceTable, load_table
from mpugui.core.orphans.protection import PARTIAL, PROTECTED, UNKNOWN, UNPROTECTED
from mpugui.core.orphans.results import AccountScan, BucketReport, ScannedUpload
from mpugui.core.orphans.scan import AccountScanner, ScanListener, list_buckets
from mpugui.core.orphans.totals import totals
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.units import GiB, TiB
from tests.faultproxy import Fault, FaultProxy
from tests.functional.test_inventory import remaining_ids, start_upload

NOW = datetime(2010, 11, 20, tzinfo=timezone.utc)  # moto dates every upload 2010-11-10
OTHER_RULE = {"ID": "expire-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
              "Expiration": {"Days": 30}}


@pytest.fixture
def fresh_account(monkeypatch: pytest.MonkeyPatch) -> str:
    """A moto account of its own (moto reads MOTO_ACCOUNT_ID per request), so
    ListBuckets sees only this test's buckets on the shared server."""
    account = str(random.Random(uuid.uuid4().int).randrange(10**11, 10**12))
    monkeypatch.setenv("MOTO_ACCOUNT_ID", account)
    return account


def _name(tag: str) -> str:
    return f"orph-{tag}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def account(fresh_account: str, moto_url: str) -> dict[str, Any]:
    """Buckets in us-east-1 and eu-west-1: `east` holds two uploads, `west`
    one (STANDARD_IA) and lifecycle rules (an abort rule among them),
    `empty` nothing, `denied` one upload it will not list."""
    east_c = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    west_c = boto3.client("s3", endpoint_url=moto_url, region_name="eu-west-1")
    b = {"east": _name("east"), "west": _name("west"), "empty": _name("empty"),
         "denied": _name("denied")}
    for tag in ("east", "denied"):
        east_c.create_bucket(Bucket=b[tag])
    for tag in ("west", "empty"):
        west_c.create_bucket(Bucket=b[tag],
                             CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    ids = {
        "e1": start_upload(east_c, b["east"], "big.bin", [b"a" * 1000, b"b" * 500]),
        "e2": start_upload(east_c, b["east"], "empty.bin", []),
        "w1": start_upload(west_c, b["west"], "w.bin", [b"w" * 3000],
                           StorageClass="STANDARD_IA"),
        "d1": start_upload(east_c, b["denied"], "d.bin", [b"d" * 10]),
    }
    west_c.put_bucket_lifecycle_configuration(Bucket=b["west"], LifecycleConfiguration={
        "Rules": [OTHER_RULE, {"ID": "abort", "Status": "Enabled", "Filter": {"Prefix": ""},
                               "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})
    return {"buckets": b, "ids": ids, "east": east_c, "west": west_c}


@pytest.fixture
def proxy(moto_url: str, account: dict[str, Any]):
    denied = account["buckets"]["denied"]
    with FaultProxy(moto_url) as p:
        p.add(Fault("ListMultipartUploads", "error", times=None, status=403,
                    code="AccessDenied", message="Access Denied",
                    when=lambda r: r.bucket == denied))
        yield p


class Recorder(ScanListener):
    def __init__(self) -> None:
        self.listed: list[str] = []
        self.uploads: list[ScannedUpload] = []
        self.buckets: dict[str, BucketReport] = {}
        self.events: list[str] = []

    def buckets_listed(self, names: list[str]) -> None:
        self.listed = names

    def upload_found(self, row: ScannedUpload) -> None:
        self.uploads.append(row)
        self.events.append(f"upload {row.upload.bucket}")

    def bucket_done(self, report: BucketReport) -> None:
        self.buckets[report.name] = report
        self.events.append(f"bucket {report.name}")


def scan_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("orphans-scan")]


def test_scan_reports_every_bucket_in_its_region_with_sizes_costs_and_protection(
        account, proxy):
    b, ids = account["buckets"], account["ids"]
    endpoint = Endpoint(endpoint_url=proxy.url, region="us-east-1", path_style=True)
    rec = Recorder()
    # Priced by region: moto lists every upload as STANDARD, whatever it was given.
    prices = PriceTable().with_overrides({"*": 1.0, "eu-west-1/STANDARD": 2.0})
    outcome = AccountScanner(ClientFactory(), endpoint, rec, prices=prices, now=NOW,
                             journal_ids={ids["e2"]: 42}, threads=3).run()
    assert sorted(rec.listed) == sorted(b.values())
    assert (outcome.buckets, outcome.stopped) == (4, False)
    assert set(rec.buckets) == set(b.values())  # the denied bucket too: never dropped

    east, west = rec.buckets[b["east"]], rec.buckets[b["west"]]
    assert (east.region, west.region, rec.buckets[b["empty"]].region) == (
        "us-east-1", "eu-west-1", "eu-west-1")
    assert (east.uploads, east.parts, east.bytes) == (2, 2, 1500)
    assert east.monthly_cost == pytest.approx(1500 / GiB)
    assert (west.uploads, west.bytes) == (1, 3000)
    assert west.oldest is not None and west.oldest.year == 2010

    rows = {r.upload.upload_id: r for r in rec.uploads}
    assert set(rows) == {ids["e1"], ids["e2"], ids["w1"]}
    assert rows[ids["w1"]].region == "eu-west-1"
    assert rows[ids["w1"]].monthly_cost == pytest.approx(3000 / GiB * 2.0)
    assert (rows[ids["e2"]].journal_id, rows[ids["e1"]].journal_id) == (42, None)

    assert west.protection is not None and west.protection.status == PROTECTED
    assert (west.protection.days, west.protection.rules) == (7, (("", 7),))
    assert east.protection is not None and east.protection.status == UNPROTECTED

    denied = rec.buckets[b["denied"]]
    assert denied.uploads == 0 and denied.error is not None
    assert "s3:ListBucketMultipartUploads" in denied.error and b["denied"] in denied.error
    # Each bucket is reported once, after its uploads.
    for name in rec.buckets:
        last_upload = max((i for i, e in enumerate(rec.events) if e == f"upload {name}"),
                          default=-1)
        assert rec.events.index(f"bucket {name}") > last_upload
    assert not scan_threads()

    t = totals(rec.buckets.values())
    assert (t.buckets, t.uploads, t.bytes, t.unreadable, t.holding) == (4, 3, 4500, 1, 2)
    assert t.sentence().startswith("4.4 KiB in 3 unfinished uploads, about $0.0000 a month")
    assert t.sentence().endswith("1 bucket could not be read.")


def test_regions_filter_skips_other_regions_and_keep_filters_uploads(account, moto_url):
    b = account["buckets"]
    rec = Recorder()
    endpoint = Endpoint(endpoint_url=moto_url, region="us-east-1")
    outcome = AccountScanner(ClientFactory(), endpoint, rec, now=NOW,
                             regions={"eu-west-1"}).run()
    assert set(rec.buckets) == {b["west"], b["empty"]} and outcome.skipped == 2

    rec = Recorder()
    AccountScanner(ClientFactory(), endpoint, rec, now=NOW,
                   keep=lambda u: u.age(NOW) >= 30 * 86400).run()
    assert rec.uploads == [] and len(rec.buckets) == 4  # buckets reported, no candidate


def test_a_stopped_scan_stops_reporting_and_leaves_no_thread(account, moto_url):
    endpoint = Endpoint(endpoint_url=moto_url, region="us-east-1")
    holder: list[AccountScanner] = []

    class StopAtFirst(Recorder):
        def buckets_listed(self, names: list[str]) -> None:
            super().buckets_listed(names)
            holder[0].stop()

    rec = StopAtFirst()
    scanner = AccountScanner(ClientFactory(), endpoint, rec, now=NOW, threads=4)
    holder.append(scanner)
    outcome = scanner.run()
    assert outcome.stopped and rec.buckets == {}
    assert not scan_threads()


def test_stop_from_another_thread_mid_scan(account, moto_url):
    endpoint = Endpoint(endpoint_url=moto_url, region="us-east-1")
    first = threading.Event()

    class Signal(Recorder):
        def upload_found(self, row: ScannedUpload) -> None:
            super().upload_found(row)
            first.set()

    rec = Signal()
    scanner = AccountScanner(ClientFactory(), endpoint, rec, now=NOW, threads=2)
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(scanner.run()))
    runner.start()
    first.wait(60)
    scanner.stop()
    runner.join(120)
    assert not runner.is_alive() and result and result[0].stopped
    assert not scan_threads()


# -- pagination (botocore's Stubber: moto never truncates) ------------------------------


class OneClient:
    """A client factory that hands out one (stubbed) client for every region."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, endpoint: Endpoint) -> Any:
        return self._client


def test_list_buckets_follows_continuation_tokens():
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_response("list_buckets", {"Buckets": [{"Name": "aaa"}, {"Name": "bbb"}],
                                           "ContinuationToken": "t1"}, {})
        stub.add_response("list_buckets", {"Buckets": [{"Name": "ccc",
                                                        "BucketRegion": "eu-north-1"}]},
                          {"ContinuationToken": "t1"})
        entries = list_buckets(s3)
        stub.assert_no_pending_responses()
    assert [(e.name, e.region) for e in entries] == [
        ("aaa", None), ("bbb", None), ("ccc", "eu-north-1")]


def test_a_bucket_region_comes_from_the_region_header_when_the_location_is_refused():
    from mpugui.core.inventory.errors import InventoryError
    from mpugui.core.orphans.scan import bucket_region, listing_region

    s3 = boto3.client("s3", region_name="us-east-1")
    header = {"HTTPHeaders": {"x-amz-bucket-region": "ap-south-1"}}
    with Stubber(s3) as stub:
        # GetBucketLocation refused, its 403 carrying the header (S3 sends it)...
        stub.add_client_error("get_bucket_location", "AccessDenied", http_status_code=403,
                              response_meta=header)
        assert bucket_region(s3, "mine") == "ap-south-1"
        # ...or without it: HeadBucket's header answers (on a 403 as well).
        stub.add_client_error("get_bucket_location", "AccessDenied", http_status_code=403)
        stub.add_client_error("head_bucket", "403", http_status_code=403,
                              response_meta={"HTTPHeaders": {"x-amz-bucket-region": "eu-north-1"}})
        assert bucket_region(s3, "theirs") == "eu-north-1"
        # Neither: the scan says so; one bucket's listing falls back to the account's region.
        for _ in range(2):
            stub.add_client_error("get_bucket_location", "AccessDenied", http_status_code=403)
            stub.add_client_error("head_bucket", "403", http_status_code=403)
        with pytest.raises(InventoryError, match="region of bucket 'hidden'"):
            bucket_region(s3, "hidden")
        assert listing_region(s3, "hidden", Endpoint(region="ca-central-1")) == "ca-central-1"
        stub.assert_no_pending_responses()


def test_scan_pages_through_buckets_and_uploads():
    s3 = boto3.client("s3", region_name="us-east-1")
    when = datetime(2010, 11, 10, tzinfo=timezone.utc)

    def up(key: str, uid: str) -> dict[str, Any]:
        return {"Key": key, "UploadId": uid, "Initiated": when, "StorageClass": "STANDARD"}

    with Stubber(s3) as stub:
        stub.add_response("list_buckets", {"Buckets": [], "ContinuationToken": "p2"}, {})
        stub.add_response("list_buckets", {"Buckets": [{"Name": "one"}]},
                          {"ContinuationToken": "p2"})
        stub.add_response("get_bucket_location", {"LocationConstraint": "EU"},
                          {"Bucket": "one"})
        stub.add_client_error("get_bucket_lifecycle_configuration",
                              "NoSuchLifecycleConfiguration", http_status_code=404)
        stub.add_response("list_multipart_uploads", {
            "Uploads": [up("a", "u1"), up("b", "u2")], "IsTruncated": True,
            "NextKeyMarker": "b", "NextUploadIdMarker": "u2"},
            {"Bucket": "one", "MaxUploads": 2})
        stub.add_response("list_multipart_uploads", {
            "Uploads": [up("c", "u3")], "IsTruncated": False},
            {"Bucket": "one", "MaxUploads": 2, "KeyMarker": "b", "UploadIdMarker": "u2"})
        for key, uid, size in (("a", "u1", 10), ("b", "u2", 20), ("c", "u3", 30)):
            stub.add_response("list_parts", {
                "Parts": [{"PartNumber": 1, "Size": size, "ETag": '"x"'}],
                "IsTruncated": False}, {"Bucket": "one", "Key": key, "UploadId": uid,
                                        "PartNumberMarker": 0, "MaxParts": 1000})
        rec = Recorder()
        AccountScanner(OneClient(s3), Endpoint(region="us-east-1"), rec,  # type: ignore[arg-type]
                       now=NOW, threads=1, page_size=2).run()
        stub.assert_no_pending_responses()
    report = rec.buckets["one"]
    assert (report.region, report.uploads, report.bytes) == ("eu-west-1", 3, 60)
    assert report.protection is not None and report.protection.status == UNPROTECTED


# -- directory buckets (S3 Express One Zone) ----------------------------------------------


def test_directory_buckets_are_listed_page_by_page_or_refused_with_a_sentence():
    s3 = boto3.client("s3", region_name="us-west-2")
    with Stubber(s3) as stub:
        stub.add_response("list_directory_buckets", {
            "Buckets": [{"Name": "logs--usw2-az1--x-s3", "BucketRegion": "us-west-2"}],
            "ContinuationToken": "d2"}, {"MaxDirectoryBuckets": 1})
        stub.add_response("list_directory_buckets", {
            "Buckets": [{"Name": "tmp--usw2-az3--x-s3"}]},
            {"MaxDirectoryBuckets": 1, "ContinuationToken": "d2"})
        assert list_directory_buckets(s3, page_size=1) == [
            ("logs--usw2-az1--x-s3", "us-west-2"), ("tmp--usw2-az3--x-s3", "us-west-2")]
        # A store that lacks the call, denied credentials, and a store that
        # answered with its general buckets (as moto does): one sentence each.
        stub.add_client_error("list_directory_buckets", "NotImplemented", http_status_code=501)
        stub.add_client_error("list_directory_buckets", "AccessDenied", http_status_code=403)
        stub.add_response("list_directory_buckets", {"Buckets": [{"Name": "photos"}]})
        for sentence in (UNSUPPORTED, DENIED, UNSUPPORTED):
            with pytest.raises(DirectoryListingError) as caught:
                list_directory_buckets(s3)
            assert str(caught.value) == sentence
        stub.assert_no_pending_responses()


def test_a_store_without_directory_buckets_is_scanned_with_one_sentence(account, moto_url):
    """moto implements no ListDirectoryBuckets: it answers the same GET /
    with its general bucket list, which the scan recognises as 'not
    supported' and says once, scanning every general bucket as before."""
    rec = Noting()
    outcome = AccountScanner(ClientFactory(), Endpoint(endpoint_url=moto_url,
                                                       region="us-east-1", path_style=True),
                             rec, now=NOW).run()
    assert rec.notes == [UNSUPPORTED]
    assert outcome.buckets == 4 and not outcome.stopped
    assert {r.name for r in rec.buckets.values()} == set(account["buckets"].values())
    assert not any(r.directory for r in rec.buckets.values())
    assert not scan_threads()


def test_a_directory_bucket_the_store_lists_is_scanned_in_its_region(
        fresh_account, moto_url, monkeypatch):
    """The closest to S3 Express that runs here (moto has no directory
    buckets: no ListDirectoryBuckets, no CreateSession): moto holds a bucket
    named as a directory bucket, reached with botocore's session auth turned
    off; the fault proxy answers ListDirectoryBuckets with AWS's XML naming
    it in us-west-2. The scan lists it as a directory bucket in that region,
    sizes its upload and prices it from the table."""
    monkeypatch.setenv("AWS_S3_DISABLE_EXPRESS_SESSION_AUTH", "true")
    east = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    general, directory = _name("gen"), f"{_name('dir')}--usw2-az1--x-s3"
    for name in (general, directory):
        east.create_bucket(Bucket=name)
    uid = start_upload(east, directory, "fast.bin", [b"x" * 2048])
    xml = ('<?xml version="1.0" encoding="UTF-8"?><ListAllMyDirectoryBucketsResult>'
           f"<Buckets><Bucket><Name>{directory}</Name><BucketRegion>us-west-2</BucketRegion>"
           "</Bucket></Buckets></ListAllMyDirectoryBucketsResult>").encode()
    with FaultProxy(moto_url) as proxy:
        answer = proxy.add(Fault("ListDirectoryBuckets", "answer", times=None, status=200,
                                 body=xml))
        rec = Noting()
        AccountScanner(ClientFactory(), Endpoint(endpoint_url=proxy.url, region="us-east-1",
                                                 path_style=True), rec, now=NOW).run()
    assert answer.hits == 1 and rec.notes == []
    report = rec.buckets[directory]
    assert report.directory and report.region == "us-west-2"  # from the directory listing
    assert (report.uploads, report.bytes) == (1, 2048)
    assert report.as_json(NOW)["bucket_type"] == "directory"
    assert not rec.buckets[general].directory
    row = next(r for r in rec.uploads if r.upload.upload_id == uid)
    assert row.monthly_cost == pytest.approx(
        PriceTable().monthly_cost(2048, row.upload.storage_class, "us-west-2"))


def test_aws_is_asked_in_its_express_regions_and_a_store_once():
    assert regions_to_ask(None, None, "eu-west-1") == list(EXPRESS_REGIONS)
    assert regions_to_ask(None, {"eu-north-1"}, None) == ["eu-north-1"]
    assert regions_to_ask("https://s3.wasabisys.com", None, "eu-central-1") == ["eu-central-1"]
    for cls in ("EXPRESS_ONEZONE",):  # priced where AWS offers it
        assert all(PriceTable().price(cls, r) == AWS_PRICES["us-east-1"][cls]
                   for r in ("us-east-2", "eu-north-1"))


class Noting(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


# -- prices and totals ------------------------------------------------------------------------


def test_price_table_covers_every_class_and_does_the_arithmetic(tmp_path: Path):
    table = PriceTable()
    for cls in STORAGE_CLASSES:
        assert table.price(cls, "us-east-1") > 0
    assert table.monthly_cost(GiB, "STANDARD", "us-east-1") == pytest.approx(0.023)
    assert table.monthly_cost(10 * GiB, "DEEP_ARCHIVE", "us-east-1") == pytest.approx(0.0099)
    assert table.monthly_cost(GiB, "STANDARD", "sa-east-1") == pytest.approx(0.0405)
    # An unknown region is priced as us-east-1; an unknown class as STANDARD.
    assert table.price("STANDARD", "xx-nowhere-1") == AWS_PRICES["us-east-1"]["STANDARD"]
    assert table.price("REDUCED_REDUNDANCY", "eu-west-1") == AWS_PRICES["eu-west-1"]["STANDARD"]
    # Overrides: region/class beats class beats "*".
    custom = table.with_overrides({"*": 0.006, "GLACIER": 0.001, "eu-west-1/GLACIER": 0.002})
    assert custom.price("STANDARD", "us-east-1") == 0.006
    assert custom.price("GLACIER", "us-east-1") == 0.001
    assert custom.price("GLACIER", "eu-west-1") == 0.002
    with pytest.raises(ValueError):
        table.with_overrides({"*": -1})
    path = tmp_path / "prices.json"
    path.write_text('{"*": 0.0059}')
    assert load_table(path).monthly_cost(100 * GiB, "STANDARD", "any") == pytest.approx(0.59)
    assert load_table(tmp_path / "missing.json").price("STANDARD", "us-east-1") == 0.023


def _report(name: str, size: int, cost: float, uploads: int = 1) -> BucketReport:
    return BucketReport(name, "us-east-1", uploads=uploads, bytes=size, monthly_cost=cost)


def test_the_summary_sentence_names_where_the_cost_sits():
    reports = [_report("a", int(0.6 * TiB), 14.0, 2000), _report("b", int(0.4 * TiB), 9.0, 1000),
               _report("c", int(0.1 * TiB), 2.35, 400), _report("d", int(0.1 * TiB), 2.25, 12),
               _report("e", 0, 0.0, 0)]
    t = totals(reports)
    assert t.sentence() == ("1.2 TiB in 3,412 unfinished uploads, about $27.60 a month, "
                            "83% of it in 2 buckets.")
    assert totals([_report("a", GiB, 0.023)]).sentence() == (
        "1.0 GiB in 1 unfinished upload, about $0.0230 a month, all of it in one bucket.")
    assert totals([_report("a", GiB, 1.0), _report("b", GiB, 1.0)]).sentence().endswith(
        "spread over 2 buckets.")
    assert totals([_report("e", 0, 0.0, 0)] * 3).sentence() == "No unfinished uploads in 3 buckets."


# -- protect all, bulk abort, memory --------------------------------------------------------------


def test_protect_all_keeps_other_rules_is_idempotent_and_dry_run_changes_nothing(
        account, moto_url):
    b = account["buckets"]
    endpoint = Endpoint(endpoint_url=moto_url, region="us-east-1")
    clients = ClientFactory()
    targets = [(b["east"], "us-east-1"), (b["west"], "eu-west-1")]
    before_west = account["west"].get_bucket_lifecycle_configuration(Bucket=b["west"])["Rules"]

    dry = bulk.protect_all(clients, endpoint, targets, 3, dry_run=True)
    assert [r.change.changed for r in dry if r.change] == [True, True]
    assert not any(r.change.applied for r in dry if r.change)
    with pytest.raises(Exception, match="NoSuchLifecycleConfiguration"):
        account["east"].get_bucket_lifecycle_configuration(Bucket=b["east"])
    assert account["west"].get_bucket_lifecycle_configuration(
        Bucket=b["west"])["Rules"] == before_west

    done = bulk.protect_all(clients, endpoint, targets, 3)
    assert all(r.change is not None and r.change.applied for r in done)
    west_rules = account["west"].get_bucket_lifecycle_configuration(Bucket=b["west"])["Rules"]
    assert OTHER_RULE in west_rules and len(west_rules) == 2  # the abort rule was updated
    assert next(r for r in west_rules if r["ID"] == "abort")[
        "AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}

    again = bulk.protect_all(clients, endpoint, targets, 3)
    assert all(r.change is not None and not r.change.changed and not r.change.applied
               for r in again)
    assert "nothing to change" in again[0].sentence()


def test_protection_statuses():
    from mpugui.core.orphans.protection import protection_of, read_protection

    abort = {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 5}}
    assert protection_of([{"Status": "Enabled", "Filter": {"Prefix": "tmp/"}, **abort}]
                         ).status == PARTIAL
    assert protection_of([{"Status": "Disabled", "Filter": {}, **abort}]).status == UNPROTECTED
    assert protection_of([{"Status": "Enabled", "Prefix": "", **abort}]).days == 5
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_client_error("get_bucket_lifecycle_configuration", "AccessDenied",
                              http_status_code=403)
        p = read_protection(s3, "locked")
    assert p.status == UNKNOWN and p.error and "s3:GetLifecycleConfiguration" in p.error


def test_bulk_abort_in_each_region_then_nothing_is_left(account, moto_url):
    b, ids = account["buckets"], account["ids"]
    endpoint = Endpoint(endpoint_url=moto_url, region="us-east-1")
    rec = Recorder()
    AccountScanner(ClientFactory(), endpoint, rec, now=NOW).run()
    results = bulk.abort_uploads(ClientFactory(), endpoint, rec.uploads)
    assert all(r.ok for r in results) and len(results) == 4
    assert remaining_ids(account["east"], b["east"]) == set()
    assert remaining_ids(account["west"], b["west"]) == set()
    assert ids["w1"] in {r.upload.upload_id for r in results}


def test_the_last_scan_is_remembered_with_its_time(account, moto_url):
    endpoint = Endpoint(endpoint_url=moto_url, region="us-east-1")
    scan = AccountScan("acct", NOW)

    class Into(ScanListener):
        def upload_found(self, row: ScannedUpload) -> None:
            scan.upload_found(row)

        def bucket_done(self, report: BucketReport) -> None:
            scan.bucket_done(report)

    AccountScanner(ClientFactory(), endpoint, Into(), now=NOW).run()
    scan.finished = NOW
    memory.save(scan)
    memory.save(AccountScan("other", NOW))
    back = memory.load("acct")
    assert back is not None and back.started == NOW and back.finished == NOW
    assert set(back.buckets) == set(scan.buckets)
    assert sorted(u.upload.upload_id for u in back.uploads) == sorted(
        u.upload.upload_id for u in scan.uploads)
    name = account["buckets"]["west"]
    assert back.buckets[name].protection == scan.buckets[name].protection
    assert back.buckets[name].bytes == 3000
    assert memory.load("nobody") is None
