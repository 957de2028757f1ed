"""Journal durability: a SIGKILL in the middle of journal writes leaves a
database that opens, passes SQLite's integrity check, holds every write that
was reported committed, and resumes."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from mpugui.core import paths
from mpugui.core.journal.store import Journal
from mpugui.core.units import MiB
from tests.clirun import ROOT, cli_env, run_cli, start_cli, transfers
from tests.conftest import make_file

WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from mpugui.core.s3.endpoint import Endpoint
    from mpugui.core.journal.store import Journal, PartRecord, TransferRecord

    journal = Journal(Path(sys.argv[1]))
    n = 0
    while True:
        rec = TransferRecord(source=f"/data/file-{n}.bin", bucket="b", key=f"k/{n}",
                             endpoint=Endpoint(endpoint_url="http://127.0.0.1:9"), size=10**9,
                             mtime_ns=n, sample="s", part_size=8 << 20, multipart=True,
                             checksum="crc32c", upload_id=f"upload-{n}")
        tid = journal.add(rec)
        print(f"T {tid}", flush=True)
        for number in range(1, 120):
            journal.record_part(tid, PartRecord(number, 8 << 20, f'"etag-{n}-{number}"', "c"))
            # Grouped commits: a write is reported committed once a commit that
            # includes it has returned (wait=True), as the engine does for upload ids.
            journal.update(tid, state="uploading", error=None, wait=number % 3 == 0)
            if number % 3 == 0:
                print(f"P {tid} {number}", flush=True)
            if number % 40 == 0:  # checkpoints too, so a kill can land in one
                journal._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        n += 1
""")


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def test_sigkill_during_journal_writes_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "home" / "journal.sqlite3"
    rng = random.Random(5)
    committed: dict[int, int] = {}  # transfer id -> last part reported committed
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT,
                                env=cli_env(), stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        lines = rng.randrange(30, 400)
        for _ in range(lines):  # kill after a random number of committed writes
            line = proc.stdout.readline().split()
            if line and line[0] == "P":
                committed[int(line[1])] = int(line[2])
            elif line and line[0] == "T":
                committed.setdefault(int(line[1]), 0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()

        assert integrity(path) == "ok"
        journal = Journal(path)  # opens (and recovers the WAL) after the kill
        try:
            ids = {r.id for r in journal.transfers()}
            for tid, last in committed.items():
                assert tid in ids
                # Every part reported committed is there: none lost, none torn.
                parts = journal.parts(tid)
                assert set(range(1, last + 1)) <= set(parts)
                assert all(p.etag.startswith('"etag-') for p in parts.values())
        finally:
            journal.close()
    assert len(committed) >= 2


def test_cli_killed_repeatedly_mid_upload_resumes(bucket, s3, tmp_path: Path,
                                                  moto_url: str) -> None:
    """SIGKILL at random moments while parts are being journaled (12 parts, 4
    in flight), then again while resuming; the last resume finishes."""
    f = make_file(tmp_path / "f.bin", 58 * MiB + 17, seed=21)
    rng = random.Random(11)
    args = ["upload", str(f), f"s3://{bucket}/k", "--endpoint-url", moto_url, "--part-size",
            "5MiB", "--concurrency", "4", "--json", "--bwlimit", "20MB/s"]
    interrupted = 0
    for _ in range(4):
        proc = start_cli(*args)
        assert proc.stdout is not None
        # Wait for some progress lines (parts going out and being journaled).
        want = rng.randrange(2, 8)
        seen = 0
        while seen < want:
            line = proc.stdout.readline()
            if not line:
                break
            seen += '"progress"' in line
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert integrity(paths.journal_path()) == "ok"
        rows = transfers()
        assert len(rows) == 1
        if rows[0]["state"] == "done":
            break
        interrupted += 1
        args = ["resume", "--all", "--json", "--bwlimit", "20MB/s"]
    assert interrupted >= 2
    done = run_cli("resume", "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == f.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert [r["state"] for r in transfers()] == ["done"]
