"""Bad input through the real CLI (`python -m mpugui`, a child process): each
case ends with one clear sentence and a documented exit code, and nothing
already in the journal is lost.

moto accepts any credentials and any clock, so the credential and clock cases
(bad access key, bad secret, expired session token, clock skew, wrong region)
are answered by the fault proxy with the exact S3 error XML that AWS sends;
the CLI and the engine are real.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpugui.core import paths
from mpugui.core.accounts import KEYS, Account, AccountStore
from mpugui.core.s3.plan import MAX_OBJECT_SIZE
from mpugui.core.units import MiB
from tests.clirun import cli_env, json_lines, run_cli, transfers, without_root_powers
from tests.conftest import make_file
from tests.faultproxy import Fault, FaultProxy

EXIT_FAILED, EXIT_USAGE, EXIT_JOURNAL = 1, 2, 4


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as p:
        yield p


def upload(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return run_cli("upload", *args, **kw)


def said(done: subprocess.CompletedProcess[str]) -> str:
    """Everything the CLI told the user (stderr, and --json problem/state lines)."""
    told = [done.stderr]
    for e in json_lines(done.stdout):
        told.append(e.get("text") or e.get("error") or "")
    return "\n".join(told)


# -- local input ----------------------------------------------------------------

def test_missing_path(bucket, tmp_path) -> None:
    missing = tmp_path / "nope.bin"
    done = upload(str(missing), f"s3://{bucket}/k")
    assert done.returncode == EXIT_USAGE
    assert f"'{missing}' does not exist." in done.stderr


def test_fifo_and_device(bucket, tmp_path, moto_url) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    good = make_file(tmp_path / "good.bin", 10, seed=1)
    done = upload(str(fifo), "/dev/null", str(good), f"s3://{bucket}/d/",
                  "--endpoint-url", moto_url)
    assert done.returncode == EXIT_USAGE  # the good file went up; the others are named
    assert f"'{fifo}' is a named pipe (FIFO), not a file." in done.stderr
    assert "'/dev/null' is a device, not a file." in done.stderr
    assert [t["state"] for t in transfers()] == ["done"]


def test_symlink_loop(bucket, tmp_path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    done = upload(str(a), f"s3://{bucket}/k")
    assert done.returncode == EXIT_USAGE
    assert f"'{a}' is a symbolic link loop." in done.stderr


def test_folder_symlink_loop_is_walked_once(bucket, tmp_path, moto_url) -> None:
    top = tmp_path / "top"
    make_file(top / "sub" / "f.bin", 5, seed=2)
    (top / "sub" / "back").symlink_to(top)
    done = upload(str(top), f"s3://{bucket}/t/", "--endpoint-url", moto_url)
    assert "loops back to a folder already walked." in done.stderr
    assert [t["destination"] for t in transfers()] == [f"s3://{bucket}/t/sub/f.bin"]


def test_unreadable_file(bucket, tmp_path) -> None:
    """Root reads mode-000 files: the CLI runs without that power."""
    f = make_file(tmp_path / "secret.bin", 10, seed=3)
    os.chmod(f, 0)
    done = upload(str(f), f"s3://{bucket}/k", prefix=without_root_powers())
    assert done.returncode == EXIT_USAGE
    assert f"'{f}' cannot be read (permission denied)." in done.stderr


def _unreadable_folder(root: Path) -> dict[str, list[Path]]:
    """A folder with good files and entries that cannot be read, by cause:
    25 mode-000 files, 6 broken symbolic links, a FIFO, a mode-000
    subfolder (its files are never seen)."""
    made: dict[str, list[Path]] = {"good": [], "unreadable": [], "broken": []}
    for i in range(3):
        made["good"].append(make_file(root / f"good{i}.bin", 100 + i, seed=i))
    for i in range(25):
        f = make_file(root / "locked" / f"secret{i:02}.bin", 10, seed=50 + i)
        os.chmod(f, 0)
        made["unreadable"].append(f)
    for i in range(6):
        link = root / "links" / f"gone{i}"
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(root / f"deleted{i}")
        made["broken"].append(link)
    os.mkfifo(root / "pipe")
    closed = root / "closed"
    make_file(closed / "inside.bin", 10, seed=99)
    os.chmod(closed, 0)
    made["closed"] = [closed]
    return made


def test_unreadable_entries_are_said_once_per_cause(bucket, tmp_path, moto_url) -> None:
    # 33 entries that cannot be read: the first three of each cause on their
    # own line, then one sentence per cause with its count; the readable
    # files are uploaded; exit 2 (bad input, the rest done).
    root = tmp_path / "drop"
    made = _unreadable_folder(root)
    try:
        done = upload(str(root), f"s3://{bucket}/u/", "--endpoint-url", moto_url,
                      prefix=without_root_powers())
        as_json = upload(str(root), f"s3://{bucket}/j/", "--endpoint-url", moto_url, "--json",
                         prefix=without_root_powers())
    finally:
        os.chmod(made["closed"][0], 0o755)
    assert done.returncode == EXIT_USAGE, done.stderr
    lines = done.stderr.splitlines()
    locked = [ln for ln in lines if "cannot be read (permission denied)" in ln]
    assert locked[:3] == [f"mpugui: '{f}' cannot be read (permission denied)."
                          for f in made["unreadable"][:3]]
    first, second = made["unreadable"][:2]
    assert locked[3:] == [f"mpugui: 25 files cannot be read (permission denied): '{first}', "
                          f"'{second}' and 23 more."]
    broken = [ln for ln in lines if "link" in ln]
    assert len(broken) == 4 and broken[-1].startswith(
        "mpugui: 6 symbolic links point to nothing (broken links): ")
    assert broken[0] == (f"mpugui: '{made['broken'][0]}' is a broken symbolic link (it points "
                         f"to '{root / 'deleted0'}', which does not exist).")
    assert f"'{root / 'pipe'}' is a named pipe (FIFO), not a file." in done.stderr
    assert f"The folder '{made['closed'][0]}' cannot be listed (permission denied); its " \
           "contents were skipped." in done.stderr
    assert len(lines) <= 12  # not 33 lines, whatever the count
    keys = {t["destination"] for t in transfers() if t["state"] == "done"}
    assert keys == {f"s3://{bucket}/{p}/good{i}.bin" for p in ("u", "j") for i in range(3)}
    # --json lists every entry with its cause; stderr is as short as without.
    events = [e for e in json_lines(as_json.stdout) if e["event"] == "problem"]
    causes = sorted(e["cause"] for e in events)
    assert causes.count("permission") == 25 and causes.count("broken-link") == 6
    assert {"not-a-file", "folder"} <= set(causes)
    assert len(as_json.stderr.splitlines()) <= 12


def test_file_over_the_s3_maximum_is_refused_before_upload(bucket, tmp_path) -> None:
    size = MAX_OBJECT_SIZE + 1  # a sparse file: planned, never read
    for where in (tmp_path, Path("/dev/shm")):
        big = where / f"huge-{os.getpid()}.bin"
        try:
            with open(big, "wb") as f:
                f.truncate(size)
            break
        except OSError:  # this filesystem's file size limit is lower
            big.unlink(missing_ok=True)
    else:
        pytest.skip("no filesystem here holds a sparse file over 48.8 TiB")
    try:
        done = upload(str(big), f"s3://{bucket}/k")
    finally:
        big.unlink()
    assert done.returncode == EXIT_USAGE
    assert "S3 stores objects up to 48.8 TiB (10,000 parts of 5 GiB)." in done.stderr
    assert transfers() == []


def test_key_over_1024_bytes(bucket, tmp_path) -> None:
    f = make_file(tmp_path / "f.bin", 10, seed=4)
    key = "é" * 513  # 1026 bytes in UTF-8, 513 characters
    done = upload(str(f), f"s3://{bucket}/{key}")
    assert done.returncode == EXIT_USAGE
    assert "is 1026 bytes; S3 allows 1024." in done.stderr


def test_non_utf8_file_name(bucket, tmp_path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9.bin"
    with open(raw, "wb") as f:
        f.write(b"x")
    done = run_cli("upload", os.fsdecode(raw), f"s3://{bucket}/d/")
    assert done.returncode == EXIT_USAGE
    assert "is not valid UTF-8, so it cannot become an S3 key." in done.stderr


# -- option values ------------------------------------------------------------------

@pytest.mark.parametrize(("command", "option", "value", "sentence"), [
    ("upload", "--part-size", "lots", "'lots' is not a size (examples: 8MiB, 64M, 1GB, 5242880)"),
    ("upload", "--part-size", "4MiB",
     "4.0 MiB is outside S3's limits for a part (5.0 MiB to 5.0 GiB)"),
    ("upload", "--part-size", "0", "0 B is outside S3's limits for a part"),
    ("upload", "--part-size", "6GiB", "6.0 GiB is outside S3's limits for a part"),
    ("upload", "--concurrency", "0",
     "0 parts at once is outside 1 to 64 (leave the option out for the adaptive default)"),
    ("upload", "--concurrency", "100000", "100000 parts at once is outside 1 to 64"),
    ("upload", "--concurrency", "many", "'many' is not a whole number of parts"),
    ("resume", "--concurrency", "-1", "-1 parts at once is outside 1 to 64"),
    ("upload", "--bwlimit", "fast", "'fast' is not a size"),
    ("upload", "--max-wait", "soon", "'soon' is not a duration (examples: 90s, 10m, 2h, 1d)"),
    ("uploads lifecycle", "--abort-after", "0", "0 days is outside 1 to 3650"),
    ("uploads lifecycle", "--abort-after", "a week", "'a week' is not a whole number of days"),
    ("uploads cleanup", "--older-than", "soon", "'soon' is not an age (examples: 36h, 7d, 2w)"),
    ("uploads list", "--price-per-gb-month", "-1", "'-1' is not a price"),
    ("uploads adopt", "--concurrency", "0", "0 parts at once is outside 1 to 64"),
])
def test_bad_option_values_name_the_option(bucket, tmp_path, command, option, value,
                                           sentence) -> None:
    # Each is refused before anything runs: usage exit, the sentence on stderr
    # after the option's name, nothing on stdout, nothing journaled.
    f = make_file(tmp_path / "f.bin", 10, seed=4)
    target = {"upload": [str(f), f"s3://{bucket}/k"], "resume": ["--all"],
              "uploads adopt": [f"s3://{bucket}/k", "--upload-id", "x", str(f)]}.get(
                  command, [f"s3://{bucket}"])
    done = run_cli(*command.split(), *target, f"{option}={value}")
    assert done.returncode == EXIT_USAGE, done.stderr
    assert f"argument {option}: {sentence}" in done.stderr
    assert done.stdout == ""
    assert transfers() == []


# -- destination and endpoint ---------------------------------------------------------

def test_invalid_bucket_name(tmp_path) -> None:
    f = make_file(tmp_path / "f.bin", 10, seed=5)
    done = upload(str(f), "s3://Bad_Bucket!/k")
    assert done.returncode == EXIT_USAGE
    assert "'Bad_Bucket!' is not a valid bucket name" in done.stderr


def test_nonexistent_bucket_then_resume(s3, tmp_path, moto_url) -> None:
    f = make_file(tmp_path / "f.bin", 20 * MiB, seed=6)
    name = "mpugui-no-such-bucket"
    done = upload(str(f), f"s3://{name}/k", "--endpoint-url", moto_url, "--json")
    assert done.returncode == EXIT_FAILED
    assert f"The bucket '{name}' does not exist." in said(done)
    (row,) = transfers()  # kept in the journal, resumable
    assert row["state"] == "failed" and row["error"] == f"The bucket '{name}' does not exist."
    s3.create_bucket(Bucket=name)
    try:
        done = run_cli("resume", "--all")
        assert done.returncode == 0, done.stderr
        assert s3.get_object(Bucket=name, Key="k")["Body"].read() == f.read_bytes()
    finally:
        s3.delete_object(Bucket=name, Key="k")
        s3.delete_bucket(Bucket=name)


@pytest.mark.parametrize(("url", "sentence"), [
    ("ftp://s3.example.com", "'ftp://s3.example.com' is not a valid endpoint URL"),
    ("http://", "'http://' is not a valid endpoint URL"),
    ("http://127.0.0.1:port", "The port in the endpoint URL 'http://127.0.0.1:port' is not a "
                              "number."),
])
def test_malformed_endpoint_url(bucket, tmp_path, url, sentence) -> None:
    f = make_file(tmp_path / "f.bin", 10, seed=7)
    done = upload(str(f), f"s3://{bucket}/k", "--endpoint-url", url)
    assert done.returncode == EXIT_USAGE
    assert sentence in done.stderr


def test_endpoint_refusing_connections(bucket, tmp_path) -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    f = make_file(tmp_path / "f.bin", 10, seed=8)
    url = f"http://127.0.0.1:{port}"
    # --max-wait 0: fail at once (by default it waits for the endpoint to answer)
    done = upload(str(f), f"s3://{bucket}/k", "--endpoint-url", url, "--json",
                  "--max-wait", "0")
    assert done.returncode == EXIT_FAILED
    assert "The endpoint could not be reached" in said(done)
    assert [t["state"] for t in transfers()] == ["failed"]


@pytest.mark.parametrize(("option", "value", "sentence"), [
    # The account dialog's fields refuse these with the same sentences.
    ("--region", "not a region", "'not a region' is not a region name; it looks like eu-west-1."),
    ("--region", "us_east_1", "'us_east_1' is not a region name; it looks like eu-west-1."),
    ("--ca-bundle", "/nonexistent/ca.pem", "The CA bundle '/nonexistent/ca.pem' is not a file."),
    ("--ca-bundle", "NOT_PEM", "holds no PEM certificate (-----BEGIN CERTIFICATE-----)."),
])
def test_invalid_region_or_ca_bundle(bucket, tmp_path, moto_url, option, value,
                                     sentence) -> None:
    # Refused before anything is journaled or sent.
    f = make_file(tmp_path / "f.bin", 10, seed=9)
    if value == "NOT_PEM":
        value = str(make_file(tmp_path / "ca.der", 300, seed=1))
    done = upload(str(f), f"s3://{bucket}/k", "--endpoint-url", moto_url,
                  option, value, "--json")
    assert done.returncode == EXIT_USAGE
    assert sentence in done.stderr
    assert transfers() == []


# -- credentials and clock (answered by the proxy, as AWS answers) -------------------

AUTH_CASES = [
    ("bad access key", {"AWS_ACCESS_KEY_ID": "AKIDBADKEY"}, "Credential=AKIDBADKEY/",
     403, "InvalidAccessKeyId",
     "The access key ID is not known to the server. Check the account's key."),
    ("bad secret", {"AWS_SECRET_ACCESS_KEY": "wrong"}, "Credential=testing/",
     403, "SignatureDoesNotMatch",
     "The secret key is wrong (the server rejected the request signature)."),
    ("expired session token", {"AWS_SESSION_TOKEN": "expired-token"}, "expired-token",
     400, "ExpiredToken", "The session token has expired."),
    ("clock skew", {}, "Credential=testing/", 403, "RequestTimeTooSkewed",
     "This computer's clock is too far from the server's. Fix the clock."),
    ("wrong region", {}, "Credential=testing/", 400, "AuthorizationHeaderMalformed",
     "The region is wrong for this bucket or endpoint."),
]


@pytest.mark.parametrize(("env", "marker", "status", "code", "sentence"),
                         [c[1:] for c in AUTH_CASES], ids=[c[0] for c in AUTH_CASES])
def test_credential_and_clock_errors_then_resume(proxy, s3, bucket, tmp_path, env, marker,
                                                 status, code, sentence) -> None:
    def carries(r) -> bool:
        return marker in r.headers.get("authorization", "") + \
            r.headers.get("x-amz-security-token", "")
    proxy.add(Fault("*", "error", status=status, code=code, times=None, when=carries))
    f = make_file(tmp_path / "f.bin", 20 * MiB, seed=10)

    done = upload(str(f), f"s3://{bucket}/k", "--endpoint-url", proxy.url, "--json",
                  env=cli_env(**env))
    assert done.returncode == EXIT_FAILED
    assert sentence in said(done)
    (row,) = transfers()
    assert row["state"] == "failed" and sentence in row["error"]
    # Fixed (the server accepts again): the same transfer resumes and finishes.
    proxy.clear()
    done = run_cli("resume", "--all")
    assert done.returncode == 0, done.stderr
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == f.read_bytes()


def test_no_keyring_backend(bucket, tmp_path, moto_url, isolated_env) -> None:
    # The account was saved where a keyring exists (the test's in-memory one);
    # the CLI runs where none does (keyring's "fail" backend).
    AccountStore().save(Account("work", kind=KEYS, access_key_id="AKIDWORK",
                                endpoint_url=moto_url, region="us-east-1"), "s3cr3t")
    f = make_file(tmp_path / "f.bin", 10, seed=11)

    done = upload(str(f), f"s3://{bucket}/k", "--account", "work", "--json",
                  env=cli_env(PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"))
    assert done.returncode == EXIT_FAILED
    assert "The secret key of account 'work' is not in the keyring." in said(done)
    assert [t["state"] for t in transfers()] == ["failed"]


def test_saving_a_secret_without_keyring_says_so(monkeypatch) -> None:
    import keyring
    from keyring.backends.fail import Keyring as FailKeyring

    from mpugui.core import secrets

    keyring.set_keyring(FailKeyring())
    with pytest.raises(secrets.KeyringUnavailable, match="No system keyring is available"):
        AccountStore().save(Account("work", kind=KEYS, access_key_id="AKID"), "s3cr3t")
    assert AccountStore().load() == []  # nothing half-saved
    AccountStore().save(Account("work", kind=KEYS, access_key_id="AKID"), "s3cr3t",
                        session_only=True)
    assert secrets.get_secret("work") == "s3cr3t"
    secrets.delete_secret("work")


# -- the journal ------------------------------------------------------------------------

def test_corrupt_journal_is_reported_and_kept(tmp_path) -> None:
    path = paths.journal_path()
    garbage = b"this is not a database, but someone's data" * 200
    path.write_bytes(garbage)
    f = make_file(tmp_path / "f.bin", 10, seed=12)
    for args in (["transfers"], ["upload", str(f), "s3://some-bucket/k"], ["resume", "--all"]):
        done = run_cli(*args)
        assert done.returncode == EXIT_JOURNAL, args
        assert f"The journal {path} is damaged; move it aside to start a new one." \
            in done.stderr
    assert path.read_bytes() == garbage  # never overwritten


def test_locked_journal_is_reported(bucket, tmp_path, moto_url) -> None:
    f = make_file(tmp_path / "f.bin", 10, seed=13)
    assert upload(str(f), f"s3://{bucket}/a", "--endpoint-url", moto_url).returncode == 0
    holder = sqlite3.connect(paths.journal_path(), isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
        done = upload(str(f), f"s3://{bucket}/b", "--endpoint-url", moto_url)
        assert done.returncode == EXIT_JOURNAL
        assert f"The journal {paths.journal_path()} is locked by another program." \
            in done.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [t["destination"] for t in transfers()] == [f"s3://{bucket}/a"]


@pytest.fixture
def tiny_disk(tmp_path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a real "disk full" (ENOSPC) for the journal."""
    where = tmp_path / "tiny"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs",
                              str(where)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 512):
            pass
    except OSError:  # ENOSPC: full
        pass
    finally:
        os.close(fd)
    return filler


def test_journal_disk_full_mid_upload(qtbot, proxy, s3, bucket, tmp_path, tiny_disk) -> None:
    from mpugui.core.journal.store import Journal
    from mpugui.core.s3.endpoint import ClientFactory, Endpoint
    from mpugui.core.states import DONE, FAILED
    from mpugui.engine.engine import EngineSettings, TransferEngine, UploadRequest

    path = tiny_disk / "journal.sqlite3"
    journal = Journal(path)
    engine = TransferEngine(journal, ClientFactory(6), EngineSettings(
        part_size=5 * MiB, threshold=5 * MiB, concurrency=2, retry_base=0.05, tick_ms=50))
    try:
        f = make_file(tmp_path / "f.bin", 22 * MiB + 1, seed=14)
        hold = proxy.add(Fault("UploadPart", "hold", part=2))
        tid = engine.add(UploadRequest(str(f), bucket, "k", Endpoint(endpoint_url=proxy.url)))
        assert hold.held.wait(30)
        filler = fill(tiny_disk)  # the disk fills up while parts are in flight
        hold.release.set()
        qtbot.waitUntil(lambda: engine.current_snapshot().by_id(tid).state == FAILED
                        and not engine.busy(), timeout=60000)
        detail = engine.current_snapshot().by_id(tid).detail
        assert f"The disk holding the journal {path} is full." in detail
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
        # Space again: the same engine (its workers alive) resumes the same upload.
        filler.unlink()
        engine.resume([tid])
        qtbot.waitUntil(lambda: engine.current_snapshot().by_id(tid).state == DONE,
                        timeout=60000)
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == f.read_bytes()
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    finally:
        engine.shutdown()
        journal.close()
    reopened = Journal(path)
    assert [r.state for r in reopened.transfers()] == [DONE]
    reopened.close()


def test_journal_disk_full_in_the_cli(bucket, tmp_path, moto_url, tiny_disk) -> None:
    home = tiny_disk / "home"
    env = cli_env(MPUGUI_HOME=str(home))
    first = make_file(tmp_path / "a.bin", 10, seed=15)
    assert upload(str(first), f"s3://{bucket}/a", "--endpoint-url", moto_url,
                  env=env).returncode == 0
    filler = fill(tiny_disk)
    many = tmp_path / "many"
    for i in range(40):
        make_file(many / f"{i:02d}.bin", 1, seed=i)
    done = upload(str(many), f"s3://{bucket}/m/", "--endpoint-url", moto_url, env=env)
    assert done.returncode in (EXIT_USAGE, EXIT_JOURNAL), done.stdout + done.stderr
    assert f"The disk holding the journal {home / 'journal.sqlite3'} is full." in done.stderr
    filler.unlink()
    # Nothing that was journaled before is lost.
    rows = transfers(env=env)
    assert rows and rows[0]["destination"] == f"s3://{bucket}/a" and rows[0]["state"] == "done"
    assert all(r["state"] == "done" for r in rows)
