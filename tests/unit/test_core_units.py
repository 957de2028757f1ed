"""Pure core: planning, units, checksums, journal, sources."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import stat
import zlib
from pathlib import Path

import pytest

from mpugui.core.errors import SourceChanged
from mpugui.core.journal.store import Journal, JournalError, PartRecord, TransferRecord
from mpugui.core.s3 import checksums
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.s3.plan import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    TAPER_V1,
    PlanError,
    make_plan,
)
from mpugui.core.sources import Identity, check_unchanged, collect, identity
from mpugui.core.units import GiB, MiB, TiB, parse_age, parse_rate, parse_size


@pytest.mark.parametrize("size", [0, 1, 5 * MiB - 1])
def test_small_files_go_up_in_one_put(size: int) -> None:
    plan = make_plan(size, part_size=5 * MiB, threshold=5 * MiB)
    assert not plan.multipart and plan.part_count == 0


def test_parts_cover_the_file_with_an_uneven_last_part() -> None:
    plan = make_plan(17 * MiB + 5, part_size=5 * MiB, threshold=5 * MiB)
    parts = plan.parts()
    assert [p.size for p in parts] == [5 * MiB] * 3 + [2 * MiB + 5]
    assert parts[-1].offset + parts[-1].size == 17 * MiB + 5
    assert [p.number for p in parts] == [1, 2, 3, 4]


@pytest.mark.parametrize("size", [100 * GiB, 1 * TiB, 10 * TiB, MAX_OBJECT_SIZE - 1,
                                  MAX_OBJECT_SIZE])
def test_part_size_scales_so_any_file_fits_10000_parts(size: int) -> None:
    plan = make_plan(size, part_size=8 * MiB)
    assert plan.part_count <= MAX_PARTS
    assert MIN_PART_SIZE <= plan.part_size <= MAX_PART_SIZE
    last = plan.part(plan.part_count)
    assert last.offset + last.size == size and 0 < last.size <= plan.part_size


@pytest.mark.parametrize("size", [16 * MiB, 17 * MiB + 5, 100 * MiB, 512 * MiB + 3,
                                  1536 * MiB, 100 * GiB + 1])
def test_a_tapered_plan_ends_in_small_parts_that_s3_accepts(size: int) -> None:
    plan = make_plan(size, taper=TAPER_V1)
    parts = plan.parts()
    assert plan.taper == TAPER_V1 and len(parts) == plan.part_count <= MAX_PARTS
    assert parts[0].offset == 0 and parts[-1].offset + parts[-1].size == size
    assert all(a.offset + a.size == b.offset for a, b in itertools.pairwise(parts))
    assert all(MIN_PART_SIZE <= p.size <= plan.part_size for p in parts[:-1])
    assert 0 < parts[-1].size <= plan.part_size
    # The end is cut fine: the parts in flight at the end are S3's smallest.
    assert all(p.size == MIN_PART_SIZE for p in parts[-8:-1])
    assert plan.smallest_part == MIN_PART_SIZE
    assert plan.largest_part == max(p.size for p in parts)
    # Rebuilt from the same numbers, the same cut (resume depends on it).
    assert make_plan(size, taper=TAPER_V1).parts() == parts
    uniform = make_plan(size)
    assert plan.part_size == uniform.part_size
    assert plan.part_count - uniform.part_count <= 45  # what the taper costs in requests


def test_a_taper_that_would_pass_10000_parts_falls_back_to_equal_parts() -> None:
    size = MAX_PARTS * 16 * MiB - 1  # exactly fits 10,000 equal parts
    plan = make_plan(size, taper=TAPER_V1)
    assert plan.taper == 0 and plan.part_count == MAX_PARTS
    assert plan.smallest_part == plan.part_size == 16 * MiB


@pytest.mark.parametrize(("endpoint", "equal"), [
    (Endpoint(), False),
    (Endpoint(endpoint_url="http://127.0.0.1:9000"), False),
    (Endpoint(endpoint_url="https://0123abc.r2.cloudflarestorage.com"), True),
    (Endpoint(endpoint_url="https://0123abc.eu.r2.cloudflarestorage.com/"), True),
    (Endpoint(endpoint_url="https://minio.example.com", equal_parts=True), True),
])
def test_stores_that_require_equal_parts_are_known(endpoint: Endpoint, equal: bool) -> None:
    assert endpoint.needs_equal_parts() is equal


def test_larger_than_s3_maximum_is_refused_with_a_sentence() -> None:
    with pytest.raises(PlanError, match="S3 stores objects up to"):
        make_plan(MAX_OBJECT_SIZE + 1)
    with pytest.raises(PlanError, match="outside S3's limits"):
        make_plan(100 * MiB, part_size=MiB)


def test_sparse_file_near_the_limit_is_planned_not_read(tmp_path: Path) -> None:
    path = tmp_path / "sparse.img"
    with open(path, "wb") as f:
        f.truncate(5 * TiB)
    ident = identity(str(path))  # reads only three 64 KiB samples
    plan = make_plan(ident.size)
    assert plan.part_count <= MAX_PARTS and plan.part_size >= 5 * TiB // MAX_PARTS


def _blake2b_sample(data: bytes) -> str:
    """A sample as journals before the CRC samples hold it."""
    h = hashlib.blake2b(digest_size=16)
    mid = max(0, len(data) // 2 - 32 * 1024)
    for offset in sorted({0, mid, max(0, len(data) - 64 * 1024)}):
        h.update(data[offset:offset + 64 * 1024])
    return h.hexdigest()


def test_a_sample_sees_a_change_in_any_window_and_old_samples_still_compare(
        tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = bytearray(os.urandom(300 * 1024))
    path.write_bytes(data)
    st = path.stat()
    ident = identity(str(path))
    assert ident.sample.startswith("c") and len(ident.sample) == 17
    # A journal from before holds a BLAKE2b sample: the file is still that one.
    old = Identity(st.st_size, st.st_mtime_ns, _blake2b_sample(bytes(data)))
    assert identity(str(path), like=old.sample).sample == old.sample
    check_unchanged(str(path), old)
    check_unchanged(str(path), ident)
    for offset in (10, len(data) // 2, len(data) - 10):  # first, middle, last window
        changed = bytearray(data)
        changed[offset] ^= 1
        path.write_bytes(changed)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and time
        for expected in (ident, old):
            with pytest.raises(SourceChanged, match="was modified"):
                check_unchanged(str(path), expected)


def test_units() -> None:
    assert parse_size("8MiB") == parse_size("8M") == 8 * MiB
    assert parse_size("1GB") == 10**9 and parse_size("5242880") == 5 * MiB
    assert parse_rate("10MB/s") == 10**7 and parse_rate("0") == 0
    assert parse_age("36h") == 36 * 3600 and parse_age("7d") == 7 * 86400
    for bad in ("lots", "-1M", "5 parsecs"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_checksum_values_match_reference_implementations() -> None:
    data = os.urandom(100_000)
    crc32 = checksums.algorithm("crc32")
    assert crc32.value(data) == base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert checksums.algorithm("sha256").value(data) == base64.b64encode(
        hashlib.sha256(data).digest()).decode()
    assert checksums.algorithm("md5").part_param == "ContentMD5"
    assert checksums.algorithm("crc32c").part_param == "ChecksumCRC32C"
    assert checksums.algorithm("none").value(data) is None
    with pytest.raises(ValueError, match="Unknown checksum"):
        checksums.algorithm("adler")



def test_a_checksum_fed_in_pieces_equals_the_one_shot_value() -> None:
    # Adopting an upload hashes each part in chunks, with the same registry.
    data = os.urandom(300_001)
    for name in ("crc32c", "crc32", "sha256"):
        algo = checksums.algorithm(name)
        assert checksums.by_s3_name(name.upper()) is algo
        assert algo.new is not None
        h = algo.new()
        for i in range(0, len(data), 65_536):
            h.update(memoryview(data)[i:i + 65_536])
        assert base64.b64encode(h.digest()).decode() == algo.value(data)
    sha1 = checksums.by_s3_name("sha1")
    assert sha1 is not None and sha1.new is not None and checksums.sendable("SHA1") is None
    h = sha1.new()
    h.update(data)
    assert h.digest() == hashlib.sha1(data).digest()
    assert checksums.sendable("crc32c") is checksums.algorithm("crc32c")
    assert checksums.by_s3_name("ADLER") is None

def test_composite_and_multipart_etag() -> None:
    parts = [b"a" * 10, b"b" * 7]
    md5s = [hashlib.md5(p).hexdigest() for p in parts]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-2"
    assert checksums.multipart_etag([f'"{m}"' for m in md5s]) == expected
    assert checksums.multipart_etag(["not-an-md5"]) is None
    algo = checksums.algorithm("crc32")
    values = [algo.value(p) for p in parts]
    raw = b"".join(base64.b64decode(v) for v in values)
    assert algo.composite(values) == base64.b64encode(
        zlib.crc32(raw).to_bytes(4, "big")).decode() + "-2"


def _record(**kw) -> TransferRecord:
    base = dict(source="/tmp/f", bucket="b", key="k", endpoint=Endpoint(endpoint_url="http://x"),
                size=10, mtime_ns=1, sample="s", part_size=5 * MiB, multipart=True,
                checksum="crc32c")
    base.update(kw)
    return TransferRecord(**base)


def test_journal_round_trip_is_private_and_keeps_odd_names(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    odd = os.fsdecode(b"/tmp/caf\xe9.bin")  # not UTF-8
    tid = journal.add(_record(source=odd))
    journal.update(tid, upload_id="UP1", state="uploading")
    journal.record_part(tid, PartRecord(1, 5 * MiB, '"etag1"', "c1=="))
    journal.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Journal(path)
    rec = again.get(tid)
    assert rec.source == odd and rec.upload_id == "UP1" and rec.state == "uploading"
    assert rec.endpoint == Endpoint(endpoint_url="http://x")
    assert again.parts(tid) == {1: PartRecord(1, 5 * MiB, '"etag1"', "c1==")}
    again.remove(tid)
    assert again.parts(tid) == {}
    again.close()


def test_a_version_1_journal_is_migrated_and_keeps_its_equal_parts(tmp_path: Path) -> None:
    import sqlite3
    path = tmp_path / "v1.sqlite3"
    journal = Journal(path)
    tid = journal.add(_record(size=40 * MiB, part_size=16 * MiB))
    journal.close()
    db = sqlite3.connect(path)  # what version 1 wrote: no taper column
    db.execute("ALTER TABLE transfers DROP COLUMN taper")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    migrated = Journal(path)
    rec = migrated.get(tid)
    migrated.close()
    assert rec.taper == 0 and [p.size for p in rec.plan().parts()] == [16 * MiB] * 2 + [8 * MiB]
    tapered = Journal(path)
    new = tapered.get(tapered.add(_record(size=40 * MiB, part_size=16 * MiB, taper=TAPER_V1)))
    tapered.close()
    assert [p.size for p in new.plan().parts()] == [5 * MiB] * 8


def test_a_journal_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    import sqlite3
    path = tmp_path / "future.sqlite3"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="newer version"):
        Journal(path)


def test_corrupt_journal_gives_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match="damaged"):
        Journal(path)


def test_collect_names_keys_like_aws_cp_and_reports_problems(tmp_path: Path) -> None:
    root = tmp_path / "dir"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    os.symlink(root, root / "sub" / "loop")  # a symlink loop back to the top
    os.mkfifo(root / "pipe")
    walk = collect([str(root)], "pre/")
    assert sorted(f.key for f in walk.files) == ["pre/a.txt", "pre/sub/b.txt"]
    assert any("loops back" in p for p in walk.problems)
    assert any("named pipe" in p for p in walk.problems)
    kept = collect([str(root)], "pre/", keep_folder_name=True)
    assert sorted(f.key for f in kept.files) == ["pre/dir/a.txt", "pre/dir/sub/b.txt"]
    one = collect([str(root / "a.txt")], "exact/key.txt")
    assert [f.key for f in one.files] == ["exact/key.txt"]
    long = collect([str(root / "a.txt")], "x" * 1025)
    assert not long.files and "S3 allows 1024" in long.problems[0]
    missing = collect([str(tmp_path / "nope")], "")
    assert "does not exist" in missing.problems[0]


def test_log_file_stays_private_across_rotation(tmp_path: Path) -> None:
    import logging

    from mpugui.core.logsetup import setup_logging

    path = setup_logging()
    handler = next(h for h in logging.getLogger().handlers
                   if getattr(h, "baseFilename", None) == str(path))
    try:
        logging.getLogger("mpugui.test").info("before rotation")
        handler.doRollover()  # type: ignore[attr-defined]
        logging.getLogger("mpugui.test").info("after rotation")
        for p in [path, path.with_name(path.name + ".1")]:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def test_mallopt_sets_glibc_options() -> None:
    """In a child: the settings are process-wide, and this suite's memory
    must not change under the other tests."""
    import subprocess
    import sys

    code = ("import sys; from mpugui.core import malloc as m; "
            "print(m.mallopt(m.M_ARENA_MAX, 2), m.mallopt(m.M_MMAP_THRESHOLD, 2 << 20), "
            "m.mallopt(m.M_TRIM_THRESHOLD, 128 << 20))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    expected = "True" if sys.platform.startswith("linux") else "False"
    assert out == [expected] * 3  # glibc took each value (elsewhere: nothing to set)
