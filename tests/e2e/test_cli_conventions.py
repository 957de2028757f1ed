"""The CLI keeps Unix conventions (issue 14): results on stdout, failures and
warnings on stderr (also with --json), a closed pipe ends a command quietly,
and a failed cancel says why. Real subprocesses against moto (through the
fault proxy where the server must refuse something)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpugui.core.units import MiB
from tests.clirun import cli_cmd, cli_env, json_lines, run_cli, start_cli
from tests.conftest import make_file
from tests.faultproxy import Fault, FaultProxy

ROOT = Path(__file__).resolve().parents[2]
MISSING = "The bucket 'no-such-bucket-here' does not exist."


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as p:
        yield p


def test_a_failed_transfer_is_said_on_stderr(moto_url: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "x.bin", 10, seed=1)
    plain = run_cli("upload", str(src), "s3://no-such-bucket-here/x", "--endpoint-url", moto_url)
    assert plain.returncode == 1
    assert MISSING in plain.stderr and MISSING not in plain.stdout
    assert "Transfers: 1 failed." in plain.stdout  # the result stays on stdout

    as_json = run_cli("upload", str(src), "s3://no-such-bucket-here/x", "--endpoint-url",
                      moto_url, "--json")
    assert as_json.returncode == 1
    failed = [e for e in json_lines(as_json.stdout) if e.get("state") == "failed"]
    assert failed and MISSING in failed[0]["error"]  # the event stays on stdout...
    assert MISSING in as_json.stderr  # ...and the sentence is on stderr too
    assert all(line.startswith("{") for line in as_json.stdout.splitlines())


def test_a_problem_with_a_source_is_said_on_stderr_also_with_json(bucket: str, moto_url: str,
                                                                   tmp_path: Path) -> None:
    good = make_file(tmp_path / "good.bin", 10, seed=2)
    missing = tmp_path / "missing.bin"
    done = run_cli("upload", str(good), str(missing), f"s3://{bucket}/p/", "--endpoint-url",
                   moto_url, "--json")
    assert done.returncode == 2
    assert "missing.bin" in done.stderr
    assert any(e["event"] == "problem" for e in json_lines(done.stdout))


def _closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with its stdout a pipe whose reader has already gone, as
    `mpugui ... | head -1` leaves it once head exits."""
    proc = start_cli(*args)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    with proc:
        err = proc.stderr.read()
        proc.wait(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", err)


@pytest.mark.parametrize("as_json", [False, True])
def test_a_closed_pipe_ends_a_listing_quietly(s3, bucket: str, moto_url: str, tmp_path: Path,
                                              as_json: bool) -> None:
    src = make_file(tmp_path / "x.bin", 10, seed=3)
    s3.create_multipart_upload(Bucket=bucket, Key="orphan")  # something for `uploads list`
    assert run_cli("upload", str(src), f"s3://{bucket}/x", "--endpoint-url",
                   moto_url).returncode == 0
    flag = ["--json"] if as_json else []
    for args in (["transfers", *flag], ["uploads", "list", f"s3://{bucket}", "--endpoint-url",
                                         moto_url, *flag]):
        done = _closed_pipe(*args)
        assert done.stderr == "", done.stderr
        assert done.returncode == 141  # as a tool that SIGPIPE ended


def test_a_closed_pipe_pauses_an_upload_quietly(bucket: str, moto_url: str,
                                                tmp_path: Path) -> None:
    src = make_file(tmp_path / "slow.bin", 12 * MiB, seed=4)
    done = _closed_pipe("upload", str(src), f"s3://{bucket}/slow", "--endpoint-url", moto_url,
                        "--part-size", "5MiB", "--bwlimit", "2MiB/s", "--json")
    assert done.returncode == 3, done.stderr  # interrupted: paused, resumable
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    rows = {r["state"] for r in json_lines(run_cli("transfers", "--json").stdout)}
    assert rows <= {"paused", "done"}


def test_shell_pipe_into_head(bucket: str, moto_url: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "x.bin", 10, seed=5)
    for i in range(3):
        assert run_cli("upload", str(src), f"s3://{bucket}/x{i}", "--endpoint-url",
                       moto_url).returncode == 0
    cmd = " ".join(cli_cmd("transfers", "--json")) + " | head -c 1; exit ${PIPESTATUS[0]}"
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=cli_env(),
                          cwd=ROOT, timeout=120)
    assert done.stdout == "{" and done.stderr == ""
    assert done.returncode in (0, 141)  # 0 when it all fit in the pipe before head left


def test_a_failed_cancel_says_why_in_json_and_on_stderr(proxy: FaultProxy, bucket: str,
                                                        tmp_path: Path) -> None:
    src = make_file(tmp_path / "big.bin", 17 * MiB, seed=6)
    proxy.add(Fault("UploadPart", "error", status=403, code="AccessDenied", part=2))
    up = run_cli("upload", str(src), f"s3://{bucket}/big", "--endpoint-url", proxy.url,
                 "--part-size", "5MiB")
    assert up.returncode == 1, up.stdout + up.stderr  # failed, its upload kept
    (row,) = json_lines(run_cli("transfers", "--json").stdout)
    assert row["state"] == "failed" and row["upload_id"]

    proxy.add(Fault("AbortMultipartUpload", "error", status=403, code="AccessDenied"))
    done = run_cli("cancel", str(row["id"]), "--json")
    assert done.returncode == 1
    failed = [e for e in json_lines(done.stdout) if e.get("event") == "state"
              and e["state"] == "failed"]
    assert failed and "Cancel failed" in (failed[-1]["error"] or ""), done.stdout
    assert "Cancel failed" in done.stderr
    (row,) = json_lines(run_cli("transfers", "--json").stdout)
    assert "Cancel failed" in row["error"]  # journaled too
