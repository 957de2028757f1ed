"""The CLI as a user runs it: a subprocess against moto's server, including a
SIGKILL mid-upload and `mpugui resume --all` afterwards."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from mpugui.core.units import MiB
from tests.conftest import make_file

ROOT = Path(__file__).resolve().parents[2]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_PROFILE")}
    env["PYTHONPATH"] = str(ROOT)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra or {})
    return env


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mpugui", *args], capture_output=True,
                          text=True, env=env or cli_env(), timeout=timeout, cwd=ROOT)


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_upload_files_and_folder_with_aws_cp_key_naming(s3, bucket, moto_url,
                                                        tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    make_file(folder / "a.jpg", 1000, seed=1)
    make_file(folder / "sub" / "b.jpg", 6 * MiB + 3, seed=2)
    single = make_file(tmp_path / "single.bin", 10, seed=3)
    proc = run_cli("upload", str(folder), str(single), f"s3://{bucket}/backup/",
                   "--endpoint-url", moto_url, "--part-size", "5MiB", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["backup/a.jpg", "backup/single.bin", "backup/sub/b.jpg"]
    got = s3.get_object(Bucket=bucket, Key="backup/sub/b.jpg")["Body"].read()
    assert got == (folder / "sub" / "b.jpg").read_bytes()
    summary = events(proc.stdout)[-1]
    assert summary["event"] == "summary" and summary["states"] == {"done": 3}

    # A single file to a key not ending in '/' is stored under exactly that key.
    proc = run_cli("upload", str(single), f"s3://{bucket}/exact/name.dat",
                   "--endpoint-url", moto_url)
    assert proc.returncode == 0, proc.stderr
    assert s3.get_object(Bucket=bucket, Key="exact/name.dat")["Body"].read() == single.read_bytes()

    listing = run_cli("transfers", "--json")
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert len(rows) == 4 and {r["state"] for r in rows} == {"done"}


def test_final_parts_shrink_unless_the_store_needs_equal_parts(s3, bucket, moto_url,
                                                              tmp_path: Path) -> None:
    src = make_file(tmp_path / "f.bin", 17 * MiB, seed=4)
    for flag, key in ((), "tapered"), (("--equal-parts",), "equal"):
        proc = run_cli("upload", str(src), f"s3://{bucket}/{key}", "--endpoint-url", moto_url,
                       *flag)
        assert proc.returncode == 0, proc.stderr
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == src.read_bytes()
    rows = [json.loads(line) for line in run_cli("transfers", "--json").stdout.splitlines()]
    parts = {r["destination"].rsplit("/", 1)[1]: r["parts_total"] for r in rows}
    assert parts == {"tapered": 4, "equal": 2}  # 5+5+5+2 MiB, 16+1 MiB


def test_sigkill_mid_upload_then_resume_all(s3, bucket, moto_url, tmp_path: Path) -> None:
    size = 40 * MiB + 1234
    src = make_file(tmp_path / "crash.bin", size, seed=9)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpugui", "upload", str(src), f"s3://{bucket}/crash.bin",
         "--endpoint-url", moto_url, "--part-size", "5MiB", "--concurrency", "2",
         "--bwlimit", "6MiB/s", "--json"],
        stdout=subprocess.PIPE, text=True, env=cli_env(), cwd=ROOT)
    assert proc.stdout is not None
    reported = 0
    for line in proc.stdout:
        if '"progress"' in line:
            reported = max([reported] + [t["parts_done"] for t in json.loads(line)["transfers"]])
            if reported >= 3:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()

    db = sqlite3.connect(Path(os.environ["MPUGUI_HOME"]) / "journal.sqlite3")
    (upload_id,) = db.execute("SELECT upload_id FROM transfers").fetchone()
    (journaled,) = db.execute("SELECT COUNT(*) FROM parts").fetchone()
    db.close()
    # Commits are grouped (30 ms): a part acknowledged just before the kill may
    # not be journaled yet, but then resume finds it on the server.
    assert upload_id and journaled >= reported - 1

    resumed = run_cli("resume", "--all", "--json")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert s3.get_object(Bucket=bucket, Key="crash.bin")["Body"].read() == src.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    states = [e for e in events(resumed.stdout) if e["event"] == "state"]
    assert states[-1]["upload_id"] == upload_id  # the same upload was completed
    # Only parts not done at the kill went again, journaled or not (ListParts
    # and the part's MD5 keep one the journal missed).
    resent = events(resumed.stdout)[-1]["wire_bytes"]
    assert resent <= (9 - reported) * 5 * MiB


def test_sigterm_pauses_and_exit_code_3(bucket, moto_url, tmp_path: Path) -> None:
    src = make_file(tmp_path / "t.bin", 20 * MiB, seed=4)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpugui", "upload", str(src), f"s3://{bucket}/t.bin",
         "--endpoint-url", moto_url, "--part-size", "5MiB", "--bwlimit", "4MiB/s", "--json"],
        stdout=subprocess.PIPE, text=True, env=cli_env(), cwd=ROOT)
    assert proc.stdout is not None
    for line in proc.stdout:  # progress comes from the start: wait for bytes to move
        if '"progress"' in line and json.loads(line)["bytes"] > 0:
            break
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == 3
    rows = [json.loads(x) for x in run_cli("transfers", "--json").stdout.splitlines()]
    assert rows[0]["state"] == "paused" and rows[0]["upload_id"]


def test_missing_credentials_and_unknown_bucket_give_sentences(moto_url, bucket,
                                                               tmp_path: Path) -> None:
    src = make_file(tmp_path / "x.bin", 10, seed=5)
    env = cli_env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)
    proc = run_cli("upload", str(src), f"s3://{bucket}/x", "--endpoint-url", moto_url, env=env)
    assert proc.returncode == 1
    assert "No credentials were found" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr

    proc = run_cli("upload", str(src), "s3://no-such-bucket-here/x", "--endpoint-url", moto_url)
    assert proc.returncode == 1
    assert "The bucket 'no-such-bucket-here' does not exist." in proc.stderr


def test_bad_usage_exit_2(moto_url, tmp_path: Path) -> None:
    proc = run_cli("upload", str(tmp_path / "missing"), "s3://bkt-x/", "--endpoint-url", moto_url)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = run_cli("upload", str(tmp_path), "not-a-uri")
    assert proc.returncode == 2 and "is not an S3 URI" in proc.stderr
    proc = run_cli("upload", "x", "s3://bkt/", "--part-size", "lots")
    assert proc.returncode == 2 and "is not a size" in proc.stderr
    proc = run_cli("upload", str(tmp_path), "s3://bkt-x/", "--endpoint-url", "ftp//nope")
    assert proc.returncode == 2 and "not a valid endpoint URL" in proc.stderr
    proc = run_cli("resume", "42")
    assert proc.returncode == 2 and "No unfinished transfer with id 42" in proc.stderr
