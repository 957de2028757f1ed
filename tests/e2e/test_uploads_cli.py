"""`mpugui uploads ...` end to end against moto's HTTP server: in-process
through cli.main (so the engine runs under the test's Qt application), and
once as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mpugui.core import paths
from mpugui.core.journal.store import Journal, TransferRecord
from mpugui.core.states import CANCELLED, DONE, PAUSED
from mpugui.core.units import MiB
from tests.clirun import run_in_process
from tests.conftest import make_file
from tests.functional.test_inventory import remaining_ids, start_upload


@pytest.fixture
def run(moto_url, capsys):
    """Run `mpugui ARGS --endpoint-url moto`; returns (exit code, stdout, stderr)."""

    def call(*args: str) -> tuple[int, str, str]:
        return run_in_process(capsys, *args, "--endpoint-url", moto_url, "--region", "us-east-1")

    return call


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_list_json_reports_parts_and_bytes_of_uploads_made_elsewhere(run, s3, bucket):
    a = start_upload(s3, bucket, "data/a.bin", [b"1" * 700, b"2" * 300])
    b = start_upload(s3, bucket, "data/b.bin", [])
    start_upload(s3, bucket, "elsewhere.bin", [b"3"])
    code, out, err = run("uploads", "list", f"s3://{bucket}/data/", "--json",
                         "--price-per-gb-month", "1.0")
    assert code == 0, err
    rows = {r["upload_id"]: r for r in json_lines(out)}
    assert set(rows) == {a, b}
    assert (rows[a]["parts"], rows[a]["bytes"]) == (2, 1000)
    assert (rows[b]["parts"], rows[b]["bytes"]) == (0, 0)
    assert rows[a]["estimated_monthly_cost"] == pytest.approx(1000 / 2**30, abs=1e-6)
    assert rows[a]["initiated"].startswith("2010-11-10T")
    assert rows[a]["journal_id"] is None and rows[a]["error"] is None
    assert set(rows[a]) == {"bucket", "key", "upload_id", "initiated", "age_seconds",
                            "initiator", "owner", "storage_class", "checksum_algorithm",
                            "parts", "bytes", "estimated_monthly_cost", "journal_id", "error",
                            "region"}
    assert rows[a]["region"] == "us-east-1"

    code, out, _ = run("uploads", "list", f"s3://{bucket}")
    assert code == 0
    assert "3 in-progress uploads" in out and "3 parts, 1001 B" in out
    assert "estimate" in out


def test_parts_and_abort(run, s3, bucket):
    upload_id = start_upload(s3, bucket, "p.bin", [b"x" * 10, b"y" * 20, b"z" * 30],
                             ChecksumAlgorithm="CRC32")
    code, out, err = run("uploads", "parts", f"s3://{bucket}/p.bin", "--upload-id", upload_id,
                         "--json")
    assert code == 0, err
    parts = json_lines(out)
    assert [(p["part_number"], p["size"]) for p in parts] == [(1, 10), (2, 20), (3, 30)]
    assert all(len(p["etag"]) == 32 and '"' not in p["etag"] for p in parts)

    code, out, err = run("uploads", "abort", f"s3://{bucket}/p.bin", "--upload-id", upload_id)
    assert code == 0, err
    assert "Aborted" in out and "3 parts" in out
    assert upload_id not in remaining_ids(s3, bucket)


def test_abort_marks_the_apps_own_transfer_cancelled(run, s3, bucket, endpoint):
    upload_id = start_upload(s3, bucket, "mine.bin", [b"m" * 10])
    journal = Journal(paths.journal_path())
    try:
        transfer_id = journal.add(TransferRecord(
            source="/nowhere/mine.bin", bucket=bucket, key="mine.bin", endpoint=endpoint,
            size=10, mtime_ns=1, sample="", part_size=5 * MiB, multipart=True,
            checksum="crc32", upload_id=upload_id, state=PAUSED))
    finally:
        journal.close()
    code, out, _ = run("uploads", "list", f"s3://{bucket}", "--json")
    assert json_lines(out)[0]["journal_id"] == transfer_id
    code, _, err = run("uploads", "abort", f"s3://{bucket}/mine.bin", "--upload-id", upload_id)
    assert code == 0, err
    journal = Journal(paths.journal_path())
    try:
        assert journal.get(transfer_id).state == CANCELLED  # `mpugui resume` won't try it
    finally:
        journal.close()


def test_cleanup_with_mpugui_now_aborts_exactly_the_old_ones(run, s3, bucket, monkeypatch):
    old = {start_upload(s3, bucket, f"tmp/{n}", [b"o" * 100]) for n in range(3)}
    other = start_upload(s3, bucket, "keep/one", [b"k"])
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: nobody to ask
    # moto dates every upload 2010-11-10 20:48:33 UTC; the clock decides what is old.
    monkeypatch.setenv("MPUGUI_NOW", "2010-11-12T08:00:00Z")  # ~35 hours later

    code, out, _ = run("uploads", "cleanup", f"s3://{bucket}/tmp/", "--older-than", "36h",
                       "--yes")
    assert code == 0 and "nothing to abort" in out
    assert remaining_ids(s3, bucket) == old | {other}

    monkeypatch.setenv("MPUGUI_NOW", "2010-11-17T00:00:00Z")
    code, out, _ = run("uploads", "cleanup", f"s3://{bucket}/tmp/", "--older-than", "36h",
                       "--dry-run", "--json")
    events = json_lines(out)
    assert code == 0
    assert {e["upload_id"] for e in events if e["event"] == "candidate"} == old
    assert events[-1] == {"event": "summary", "dry_run": True, "now": "2010-11-17T00:00:00+00:00",
                          "older_than_seconds": 36 * 3600, "candidates": 3, "aborted": 0,
                          "failed": 0, "parts": 3, "bytes": 300}
    assert remaining_ids(s3, bucket) == old | {other}

    code, _, err = run("uploads", "cleanup", f"s3://{bucket}/tmp/", "--older-than", "36h")
    assert code == 2 and "--yes" in err  # no terminal and no --yes: refused
    assert remaining_ids(s3, bucket) == old | {other}

    code, out, err = run("uploads", "cleanup", f"s3://{bucket}/tmp/", "--older-than", "36h",
                         "--yes", "--json")
    assert code == 0, err
    events = json_lines(out)
    assert {e["upload_id"] for e in events if e["event"] == "aborted"} == old
    assert events[-1]["aborted"] == 3 and events[-1]["failed"] == 0
    assert remaining_ids(s3, bucket) == {other}


def test_cleanup_asks_on_a_terminal(run, s3, bucket, monkeypatch):
    upload_id = start_upload(s3, bucket, "t/one", [b"1"])

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setenv("MPUGUI_NOW", "2011-01-01T00:00:00Z")
    answers = iter(["n", "y"])
    questions = []
    monkeypatch.setattr("builtins.input", lambda q: (questions.append(q), next(answers))[1])
    code, out, _ = run("uploads", "cleanup", f"s3://{bucket}", "--older-than", "7d")
    assert code == 2 and "Nothing was aborted" in out
    assert upload_id in remaining_ids(s3, bucket)
    code, out, _ = run("uploads", "cleanup", f"s3://{bucket}", "--older-than", "7d")
    assert code == 0 and upload_id not in remaining_ids(s3, bucket)
    assert questions[0].startswith("Abort 1 upload holding 1 part, 1 B?")


def _other_clients_upload(s3, bucket: str, tmp_path: Path) -> tuple[Path, str]:
    path = make_file(tmp_path / "movie.bin", 11 * MiB + 999, seed=11)
    data = path.read_bytes()
    upload_id = start_upload(s3, bucket, "movies/movie.bin",
                             [data[:5 * MiB], data[5 * MiB:10 * MiB]], ChecksumAlgorithm="CRC32")
    return path, upload_id


def test_adopt_completes_another_clients_upload(run, s3, bucket, tmp_path, qapp):
    # qapp: the engine runs under the test session's Qt application.
    path, upload_id = _other_clients_upload(s3, bucket, tmp_path)
    code, out, err = run("uploads", "adopt", f"s3://{bucket}/movies/movie.bin",
                         "--upload-id", upload_id, str(path), "--json")
    assert code == 0, err
    events = json_lines(out)
    verified = events[0]
    assert verified["event"] == "verified"
    assert (verified["verified"], verified["missing"], verified["mismatches"]) == ([1, 2], [3], [])
    assert events[-1]["event"] == "summary" and events[-1]["states"] == {"done": 1}
    # Only the missing part went over the wire: 1 MiB + 999 bytes, not 11 MiB.
    assert events[-1]["wire_bytes"] == 1 * MiB + 999
    body = s3.get_object(Bucket=bucket, Key="movies/movie.bin")["Body"].read()
    assert body == path.read_bytes()
    assert upload_id not in remaining_ids(s3, bucket)
    journal = Journal(paths.journal_path())
    try:
        (rec,) = journal.transfers()
        assert (rec.upload_id, rec.state, rec.checksum) == (upload_id, DONE, "crc32")
    finally:
        journal.close()


def test_adopt_refuses_a_tampered_file(run, s3, bucket, tmp_path):
    path, upload_id = _other_clients_upload(s3, bucket, tmp_path)
    with open(path, "r+b") as f:
        f.seek(2 * MiB)
        f.write(b"tampered")
    code, _, err = run("uploads", "adopt", f"s3://{bucket}/movies/movie.bin",
                       "--upload-id", upload_id, str(path))
    assert code == 1
    assert "Part 1 (bytes 0–5,242,879) differs" in err and "nothing was completed" in err
    assert upload_id in remaining_ids(s3, bucket)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    journal = Journal(paths.journal_path())
    try:
        assert journal.transfers() == []
    finally:
        journal.close()


def test_lifecycle_merges_and_a_second_run_changes_nothing(run, s3, bucket):
    keep = {"ID": "expire-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
            "Expiration": {"Days": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [keep]})
    code, out, _ = run("uploads", "lifecycle", f"s3://{bucket}", "--abort-after", "7",
                       "--dry-run")
    assert code == 0 and "Dry run" in out and "abort incomplete uploads after 7 days" in out
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == [keep]

    code, out, _ = run("uploads", "lifecycle", f"s3://{bucket}", "--abort-after", "7", "--json")
    result = json.loads(out)
    assert code == 0 and result["applied"] and result["before"] == [keep]
    assert keep in result["after"] and len(result["after"]) == 2
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == result["after"]

    code, out, _ = run("uploads", "lifecycle", f"s3://{bucket}", "--abort-after", "7")
    assert code == 0 and "Nothing to change" in out


def test_usage_errors(run, bucket):
    assert run("uploads")[0] == 2
    code, _, err = run("uploads", "abort", f"s3://{bucket}", "--upload-id", "x")
    assert code == 2 and "names no key" in err
    code, _, err = run("uploads", "cleanup", f"s3://{bucket}", "--older-than", "soon")
    assert code == 2 and "not an age" in err
    code, _, err = run("uploads", "parts", f"s3://{bucket}/k", "--upload-id", "nope")
    assert code == 1 and "no longer exists" in err


def test_list_as_a_subprocess(moto_url, s3, bucket, tmp_path):
    upload_id = start_upload(s3, bucket, "sub.bin", [b"s" * 42])
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "mpugui", "uploads", "list", f"s3://{bucket}", "--json",
         "--endpoint-url", moto_url], capture_output=True, text=True, env=env, timeout=60,
        cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    (row,) = json_lines(proc.stdout)
    assert (row["upload_id"], row["parts"], row["bytes"]) == (upload_id, 1, 42)
