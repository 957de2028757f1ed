"""`mpugui uploads scan`, `cleanup --all-buckets` and `lifecycle
--all-buckets` through cli.main, against moto (an account of its own: see
test_orphans_scan's fixtures) and the fault proxy for a denied bucket."""

from __future__ import annotations

import io
import json
import sys

import pytest

from mpugui.core import paths
from mpugui.core.journal import owner
from mpugui.core.journal.store import Journal, TransferRecord
from mpugui.core.orphans import memory
from mpugui.core.orphans.directory import UNSUPPORTED
from mpugui.core.orphans.prices import AWS_PRICES, save_prices
from mpugui.core.states import CANCELLED, PAUSED
from mpugui.core.units import GiB, MiB
from tests.clirun import run_in_process
from tests.functional import test_orphans_scan as scan_fixtures
from tests.functional.test_inventory import remaining_ids

# The same account as the core tests (fixtures shared by name).
fresh_account = scan_fixtures.fresh_account
account = scan_fixtures.account
proxy = scan_fixtures.proxy
OTHER_RULE = scan_fixtures.OTHER_RULE

NOW = "2010-11-20T00:00:00Z"  # moto dates every upload 2010-11-10


@pytest.fixture
def run(moto_url, capsys, monkeypatch):
    """`mpugui ARGS --endpoint-url URL`; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("MPUGUI_NOW", NOW)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: nobody to ask

    def call(*args: str, url: str = moto_url) -> tuple[int, str, str]:
        return run_in_process(capsys, *args, "--endpoint-url", url, "--region", "us-east-1",
                              "--path-style")

    return call


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def all_ids(account) -> set[str]:
    b = account["buckets"]
    return (remaining_ids(account["east"], b["east"]) | remaining_ids(account["west"], b["west"])
            | remaining_ids(account["east"], b["denied"]))


def test_scan_json_one_object_per_bucket_and_upload_then_a_summary(run, account, proxy):
    b, ids = account["buckets"], account["ids"]
    code, out, err = run("uploads", "scan", "--json", "--price-per-gb-month", "1", url=proxy.url)
    assert code == 1, err  # one bucket could not be read: said, and the rest is there
    objs = lines(out)
    assert objs[-1]["event"] == "summary"
    buckets = {o["bucket"]: o for o in objs if o["event"] == "bucket"}
    uploads = {o["upload_id"]: o for o in objs if o["event"] == "upload"}
    assert set(buckets) == set(b.values())
    assert set(uploads) == {ids["e1"], ids["e2"], ids["w1"]}
    assert set(uploads[ids["w1"]]) == {
        "event", "bucket", "key", "upload_id", "initiated", "age_seconds", "initiator",
        "owner", "storage_class", "checksum_algorithm", "parts", "bytes",
        "estimated_monthly_cost", "journal_id", "error", "region"}
    assert uploads[ids["w1"]]["region"] == "eu-west-1"
    assert uploads[ids["w1"]]["age_seconds"] > 9 * 86400
    east = buckets[b["east"]]
    assert (east["uploads"], east["parts"], east["bytes"]) == (2, 2, 1500)
    assert east["protection"]["status"] == "unprotected"
    assert buckets[b["west"]]["protection"] == {
        "status": "protected", "days": 7, "rules": [{"prefix": "", "days": 7}], "error": None}
    assert "s3:ListBucketMultipartUploads" in buckets[b["denied"]]["error"]
    summary = objs[-1]
    assert (summary["buckets"], summary["uploads"], summary["bytes"]) == (4, 3, 4500)
    assert summary["unreadable_buckets"] == 1 and summary["unprotected_buckets"] == 3
    assert summary["sentence"].startswith("4.4 KiB in 3 unfinished uploads")
    # Remembered with its time, under the account's label.
    last = memory.load(proxy.url)
    assert last is not None and last.finished is not None and len(last.buckets) == 4


def test_scan_text_and_regions(run, account):
    b = account["buckets"]
    code, out, err = run("uploads", "scan")
    assert code == 0, err
    assert b["east"] in out and b["west"] in out and "after 7 days" in out
    assert "in 4 unfinished uploads" in out and "mpugui uploads lifecycle --all-buckets" in out
    code, out, _ = run("uploads", "scan", "--regions", "eu-west-1", "--json")
    assert {o["bucket"] for o in lines(out) if o["event"] == "bucket"} == {b["west"], b["empty"]}
    assert lines(out)[-1]["skipped_buckets"] == 2


def test_cleanup_all_buckets_dry_run_changes_nothing_then_aborts_and_cancels_the_journal(
        run, account, endpoint):
    b, ids = account["buckets"], account["ids"]
    before = all_ids(account)
    journal = Journal(paths.journal_path())
    try:
        mine = journal.add(TransferRecord(
            source="/nowhere/w.bin", bucket=b["west"], key="w.bin", endpoint=endpoint, size=3000,
            mtime_ns=1, sample="", part_size=5 * MiB, multipart=True, checksum="crc32",
            upload_id=ids["w1"], state=PAUSED))
    finally:
        journal.close()

    code, out, err = run("uploads", "cleanup", "--all-buckets", "--older-than", "5d",
                         "--dry-run", "--json")
    assert code == 0, err
    objs = lines(out)
    candidates = {o["upload_id"]: o for o in objs if o["event"] == "candidate"}
    assert set(candidates) == before and candidates[ids["w1"]]["journal_id"] == mine
    assert objs[-1] == {**objs[-1], "event": "summary", "dry_run": True, "candidates": 4,
                        "aborted": 0, "bytes": 4510, "buckets": 3, "journal_known": 1}
    assert all_ids(account) == before  # a dry run aborts nothing

    code, out, _ = run("uploads", "cleanup", "--all-buckets", "--older-than", "30d")
    assert code == 0 and "nothing to abort" in out

    code, _, err = run("uploads", "cleanup", "--all-buckets", "--older-than", "5d")
    assert code == 2 and "--yes" in err  # nobody to ask: refused
    assert all_ids(account) == before

    with owner.acquire(owner.WINDOW):  # the window owns the journal: refused, untouched
        code, _, err = run("uploads", "cleanup", "--all-buckets", "--older-than", "5d", "--yes")
    assert code == 5 and "window" in err
    assert all_ids(account) == before

    code, out, err = run("uploads", "cleanup", "--all-buckets", "--older-than", "5d", "--yes")
    assert code == 0, err
    assert "Aborted 4 of 4 uploads." in out
    assert all_ids(account) == set()
    journal = Journal(paths.journal_path())
    try:
        assert journal.get(mine).state == CANCELLED
    finally:
        journal.close()


def test_lifecycle_all_buckets_dry_run_then_idempotent_keeping_other_rules(run, account):
    b = account["buckets"]
    code, out, err = run("uploads", "lifecycle", "--all-buckets", "--abort-after", "7",
                         "--dry-run", "--json")
    assert code == 0, err
    objs = lines(out)
    per = {o["bucket"]: o for o in objs if o["event"] == "lifecycle"}
    assert set(per) == set(b.values())
    assert not per[b["west"]]["changed"]  # it already aborts after 7 days
    assert per[b["east"]]["changed"] and not per[b["east"]]["applied"]
    assert objs[-1] == {"event": "summary", "dry_run": True, "buckets": 4, "changed": 3,
                        "applied": 0, "failed": 0}
    with pytest.raises(Exception, match="NoSuchLifecycleConfiguration"):
        account["east"].get_bucket_lifecycle_configuration(Bucket=b["east"])

    code, out, err = run("uploads", "lifecycle", "--all-buckets", "--abort-after", "3")
    assert code == 0, err
    assert "4 buckets: changed 4, failed 0." in out
    for tag, client in (("east", "east"), ("west", "west"), ("empty", "west")):
        rules = account[client].get_bucket_lifecycle_configuration(Bucket=b[tag])["Rules"]
        aborts = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
        assert [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in aborts] == [3]
    west = account["west"].get_bucket_lifecycle_configuration(Bucket=b["west"])["Rules"]
    assert OTHER_RULE in west and len(west) == 2

    code, out, _ = run("uploads", "lifecycle", "--all-buckets", "--abort-after", "3", "--json")
    assert code == 0 and lines(out)[-1]["changed"] == 0  # idempotent


def test_all_buckets_usage_errors(run, account):
    code, _, err = run("uploads", "cleanup", "s3://x", "--all-buckets", "--older-than", "1d")
    assert code == 2 and "not both" in err
    code, _, err = run("uploads", "lifecycle", "--abort-after", "3")
    assert code == 2 and "--all-buckets" in err
    code, _, err = run("uploads", "cleanup", "s3://x", "--regions", "eu-west-1",
                       "--older-than", "1d")
    assert code == 2 and "--regions" in err


def test_scan_as_a_real_process(account, moto_url):
    """`python -m mpugui uploads scan --json` in a child process."""
    from tests.clirun import json_lines, run_cli

    done = run_cli("uploads", "scan", "--json", "--endpoint-url", moto_url, "--region",
                   "us-east-1", "--path-style", timeout=180)
    assert done.returncode == 0, done.stderr
    objs = json_lines(done.stdout)
    assert objs[-1]["event"] == "summary" and objs[-1]["buckets"] == 4
    assert sum(1 for o in objs if o["event"] == "upload") == 4


def test_list_and_scan_price_an_upload_alike_from_the_users_prices(run, account, moto_url):
    """One price table for both: the same upload costs the same in `uploads
    list` (one bucket) and `uploads scan` (the account), first with AWS's
    table plus an override, then with a price for this store alone."""
    b, ids = account["buckets"], account["ids"]

    def both() -> tuple[float, float]:
        code, out, err = run("uploads", "scan", "--json", "--regions", "eu-west-1")
        assert code == 0, err
        scanned = {o["upload_id"]: o for o in lines(out) if o.get("event") == "upload"}
        code, out, err = run("uploads", "list", f"s3://{b['west']}", "--json")
        assert code == 0, err
        listed = {o["upload_id"]: o for o in lines(out)}
        assert listed[ids["w1"]]["region"] == scanned[ids["w1"]]["region"] == "eu-west-1"
        return (scanned[ids["w1"]]["estimated_monthly_cost"],
                listed[ids["w1"]]["estimated_monthly_cost"])

    aws = AWS_PRICES["eu-west-1"]["STANDARD"]  # moto lists every upload as STANDARD
    assert both() == (pytest.approx(3000 / GiB * aws, abs=1e-6),) * 2
    save_prices({"eu-west-1/STANDARD": 0.5}, {})
    assert both() == (pytest.approx(3000 / GiB * 0.5, abs=1e-6),) * 2
    save_prices({"eu-west-1/STANDARD": 0.5}, {moto_url: {"*": 20.0}})  # this store's own
    scan_cost, list_cost = both()
    assert scan_cost == list_cost == pytest.approx(3000 / GiB * 20.0, abs=1e-6)


def test_a_bad_price_is_refused_with_a_sentence(run, account, capsys):
    code, _out, err = run("uploads", "list", f"s3://{account['buckets']['west']}",
                         "--price-per-gb-month", "-1")
    assert code == 2 and "is not a price" in err
    (paths.state_dir() / "prices.json").write_text('{"STANDARD": "cheap"}')
    code, _out, err = run("uploads", "scan")
    assert code == 2 and "must be a number of US dollars per GB-month" in err


def test_a_store_without_directory_buckets_is_one_sentence_not_a_failure(run, account):
    code, out, err = run("uploads", "scan", "--json", "--regions", "eu-west-1")
    assert code == 0
    assert err.count(UNSUPPORTED) == 1  # on stderr, once
    summary = lines(out)[-1]
    assert summary["notes"] == [UNSUPPORTED] and summary["directory_buckets"] == 0
    assert all(o["bucket_type"] == "general" for o in lines(out) if o["event"] == "bucket")
