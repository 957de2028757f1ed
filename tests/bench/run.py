"""The upload benchmark: mpugui (through its CLI, as a user runs it) against
boto3 `upload_file` (defaults, and with our part size and concurrency) and
rclone (when installed), on the same file and the same local servers.

    python -m tests.bench.run --quick        # a few minutes
    python -m tests.bench.run                # all competitors on every shape, 3 rounds

Every competitor runs as a child process; wall time is spawn to exit, CPU is
user+sys of that child from os.wait4 (rusage), peak RSS is its ru_maxrss.
Competitors alternate (A B C D A B C D ...) and medians are reported.
Servers: the sink (tests/bench/sink.py) on loopback, and the sink behind the
emulated WAN (tests/bench/wan.py, its own process). moto is only used by the
test suite. Output: tests/bench/results/bench-<time>.{md,json} and latest.*.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from mpugui.core.transfer.adaptive import START
from mpugui.core.transfer.plan import DEFAULT_PART_SIZE
from tests.bench.sink import SinkServer
from tests.bench.wan import SHAPES, Shape

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(tempfile.gettempdir()) / "mpugui-bench"
PY = sys.executable
MiB, GiB = 1024 * 1024, 1024 * 1024 * 1024
BUCKET = "bench"


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

    @property
    def wall_per_gib(self) -> float:
        return self.wall / (self.size / GiB)

    @property
    def cpu_per_gib(self) -> float:
        return self.cpu / (self.size / GiB)


@dataclass
class Competitor:
    name: str
    command: Callable[[Path, str, str], list[str]]  # (file, key, url) -> argv
    note: str = ""
    env: dict[str, str] = field(default_factory=dict)


def client_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_") or k.startswith("RCLONE_"):
            del env[k]
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(home / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-creds"),
               MPUGUI_HOME=str(home / "mpugui-home"), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=str(ROOT), RCLONE_CONFIG=str(home / "rclone.conf"))
    return env


def run_client(name: str, scenario: str, argv: list[str], env: dict[str, str],
               sink: SinkServer, key: str, size: int, timeout: float = 900,
               kill_at: float | None = None, keep_log: bool = False) -> Run:
    """Run one client to completion (or SIGKILL it once the sink holds
    `kill_at` x size bytes of its key), sampling the sink's busy bodies."""
    sink.reset_stats()
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    killed = threading.Event()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after wait4
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    arrived: list[tuple[float, int]] = []

    def sample() -> None:
        while not stop.wait(0.05):
            s = sink.stats
            samples.append((time.monotonic(), s.inflight))
            arrived.append((time.monotonic(), s.body_bytes))
            if kill_at is not None and not killed.is_set() \
                    and s.bytes_by_key.get(f"{BUCKET}/{key}", 0) >= kill_at * size:
                killed.set()
                os.kill(proc.pid, signal.SIGKILL)
            if time.monotonic() - t0 > timeout:
                os.kill(proc.pid, signal.SIGKILL)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    st = sink.stats
    obj = sink.objects.get(f"{BUCKET}/{key}")
    ok = proc.returncode == 0 and obj is not None and obj.size == size
    note = ""
    log.seek(0)
    output = log.read().decode(errors="replace")
    log.close()
    if not ok and not killed.is_set():
        note = output[-600:]
        print(f"  !! {name} failed (rc {proc.returncode}): {note}", file=sys.stderr)
    window = (st.last_body - st.first_body) if st.first_body and st.last_body else 0.0
    busy = [n for t, n in samples if st.first_body and st.last_body
            and st.first_body + 0.25 * window <= t <= st.first_body + 0.9 * window]
    # Steady rate: from when half of the bytes had arrived to when 90% had,
    # i.e. after any probing and before the last parts' tail.
    steady = 0.0
    half = next(((t, b) for t, b in arrived if b >= 0.5 * size), None)
    most = next(((t, b) for t, b in arrived if b >= 0.9 * size), None)
    if half and most and most[0] > half[0]:
        steady = (most[1] - half[1]) / (most[0] - half[0])
    return Run(name, scenario, size, ok, proc.returncode, wall,
               usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, st.body_bytes,
               max((n for _, n in samples), default=0),
               statistics.median(busy) if busy else 0.0, window,
               "killed" if killed.is_set() else note, output if keep_log else "", steady,
               _timeline(t0, samples, arrived))


def _timeline(t0: float, samples: list[tuple[float, int]],
              arrived: list[tuple[float, int]]) -> list[list[float]]:
    rows, last_bytes, second = [], 0, 1
    for (t, busy), (_, got) in zip(samples, arrived, strict=True):
        if t - t0 >= second:
            rows.append([second, busy, round((got - last_bytes) / 1e6, 1)])
            last_bytes, second = got, second + 1
    return rows


# -- competitors --------------------------------------------------------------------

def mpugui(extra: list[str] | None = None) -> Callable[[Path, str, str], list[str]]:
    return lambda f, key, url: [PY, "-m", "mpugui", "upload", str(f), f"s3://{BUCKET}/{key}",
                                "--endpoint-url", url, *(extra or [])]


def boto3_cmd(part: int | None = None, conc: int | None = None
              ) -> Callable[[Path, str, str], list[str]]:
    def argv(f: Path, key: str, url: str) -> list[str]:
        cmd = [PY, "-m", "tests.bench.boto3_upload", str(f), BUCKET, key, "--endpoint-url", url]
        if part:
            cmd += ["--part-size", str(part)]
        if conc:
            cmd += ["--concurrency", str(conc)]
        return cmd
    return argv


def rclone_cmd(f: Path, key: str, url: str) -> list[str]:
    return ["rclone", "copyto", str(f), f":s3:{BUCKET}/{key}", "--s3-no-check-bucket",
            "--s3-provider", "Other", "--s3-endpoint", url, "--s3-access-key-id", "testing",
            "--s3-secret-access-key", "testing", "--s3-force-path-style"]


def competitors(ours_part: int, ours_conc: int, with_rclone: bool) -> list[Competitor]:
    out = [
        Competitor("mpugui", mpugui(), "CLI, default settings (adaptive concurrency)"),
        Competitor("boto3 defaults", boto3_cmd(), "upload_file(), 8 MiB parts, 10 threads"),
        Competitor("boto3 ours", boto3_cmd(ours_part, ours_conc),
                   f"upload_file(), {ours_part // MiB} MiB parts, {ours_conc} threads"),
    ]
    if with_rclone and shutil.which("rclone"):
        version = subprocess.run(["rclone", "version"], capture_output=True, text=True)
        out.append(Competitor("rclone", rclone_cmd,
                              f"{version.stdout.split(chr(10))[0]} copyto, defaults"))
    return out


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


class Wan:
    """The WAN proxy in its own process, in front of the sink."""

    def __init__(self, sink: SinkServer, shape: Shape) -> None:
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

def race(scenario: str, comps: list[Competitor], file: Path, url: str, sink: SinkServer,
         rounds: int, home: Path) -> list[Run]:
    runs = []
    size = file.stat().st_size
    for r in range(rounds):
        for c in comps:
            key = f"{scenario}/{c.name.replace(' ', '-')}/{r}"
            run_home = home / f"{scenario}-{c.name.replace(' ', '-')}-{r}"
            run_home.mkdir(parents=True)
            run = run_client(c.name, scenario, c.command(file, key, url),
                             client_env(run_home), sink, key, size)
            runs.append(run)
            print(f"  {scenario:<9} {c.name:<15} round {r + 1}: {run.wall:6.2f} s wall, "
                  f"{run.cpu:6.2f} s CPU, {run.rss_mib:6.0f} MiB RSS, busy max {run.busy_max} "
                  f"settled {run.busy_settled:g}{'' if run.ok else '  FAILED'}", flush=True)
            sink.forget_objects()
    return runs


def summarize(runs: list[Run], shape: Shape | None) -> list[dict]:
    rows = []
    for name in dict.fromkeys(r.competitor for r in runs):
        mine = [r for r in runs if r.competitor == name and r.ok]
        if not mine:
            rows.append({"competitor": name, "ok": False})
            continue
        size = mine[0].size
        row = {
            "competitor": name, "ok": True, "runs": len(mine), "size_mib": size // MiB,
            "wall_s_per_gib": statistics.median(r.wall_per_gib for r in mine),
            "cpu_s_per_gib": statistics.median(r.cpu_per_gib for r in mine),
            "peak_rss_mib": statistics.median(r.rss_mib for r in mine),
            "busy_max": max(r.busy_max for r in mine),
            "busy_settled": statistics.median(r.busy_settled for r in mine),
            "wall_s": [round(r.wall, 2) for r in mine],
        }
        if shape is not None:
            row["link_share"] = statistics.median(size / r.wall / shape.link_rate for r in mine)
            row["link_share_transfer"] = statistics.median(
                r.sink_bytes / r.body_window / shape.link_rate for r in mine if r.body_window)
            row["link_share_steady"] = statistics.median(
                r.steady_rate / shape.link_rate for r in mine)
            row["busy_allowed"] = 1.5 * shape.needed_connections + 2
        rows.append(row)
    return rows


def memory_scenario(sink: SinkServer, home: Path, sizes: list[int]) -> list[dict]:
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
    with SinkServer(md5=True) as sink:
        wan = Wan(sink, shape)
        try:
            plans = [("mpugui", mpugui(), lambda f, k, u: [PY, "-m", "mpugui", "resume",
                                                           "--all"])]
            if with_boto3:
                plans.append(("boto3 defaults", boto3_cmd(), boto3_cmd()))
            for name, first, again in plans:
                run_home = home / f"resume-{name.replace(' ', '-')}"
                run_home.mkdir(parents=True)
                env = client_env(run_home)
                key = f"resume/{name.replace(' ', '-')}"
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


def gui_scenario() -> dict:
    proc = subprocess.run([PY, "-m", "tests.bench.gui_stall"], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                         "PYTHONPATH": str(ROOT)}, timeout=600)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"measured": False, "why": (proc.stderr or proc.stdout)[-400:]}


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
    rclone = ""
    if shutil.which("rclone"):
        rclone = subprocess.run(["rclone", "version"], capture_output=True,
                                text=True).stdout.split("\n")[0]
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
            "awscrt": crt, "pyside6": PySide6.__version__, "rclone": rclone}


def markdown(result: dict) -> str:
    lines = [f"Machine: {result['machine']['cores']} cores ({result['machine']['cpu']}), "
             f"Python {result['machine']['python']}, boto3 {result['machine']['boto3']}, "
             f"s3transfer {result['machine']['s3transfer']}, "
             f"{result['machine']['rclone'] or 'rclone not installed'}.",
             f"Command: `{result['command']}`", ""]
    lines.append("| scenario | competitor | file | wall s/GiB | CPU s/GiB | peak RSS MiB | "
                 "link share (whole run / transfer / steady) | busy conns max / settled "
                 "(allowed) | load avg |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for sc in result["scenarios"]:
        for row in sc["rows"]:
            if not row.get("ok"):
                lines.append(f"| {sc['name']} | {row['competitor']} | | failed | | | | | |")
                continue
            share = (f"{row['link_share']:.0%} / {row['link_share_transfer']:.0%} / "
                     f"{row['link_share_steady']:.0%}" if "link_share" in row else "")
            allowed = f" ({row['busy_allowed']:g})" if "busy_allowed" in row else ""
            lines.append(
                f"| {sc['name']} | {row['competitor']} | {row['size_mib']} MiB | "
                f"{row['wall_s_per_gib']:.2f} | {row['cpu_s_per_gib']:.2f} | "
                f"{row['peak_rss_mib']:.0f} | {share} | "
                f"{row['busy_max']} / {row['busy_settled']:g}{allowed} | "
                f"{sc.get('loadavg', 0):.1f} |")
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
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="mpugui upload benchmark")
    p.add_argument("--quick", action="store_true",
                   help="loopback x2 rounds, WAN shapes x1 round (mpugui and boto3 defaults)")
    p.add_argument("--rounds", type=int, help="rounds per scenario (default 3, quick 2)")
    p.add_argument("--only", help="comma list of: loopback,wan20,wan80,wan150,memory,resume,gui")
    p.add_argument("--size-mib", type=int, default=1024, help="loopback file size")
    p.add_argument("--no-rclone", action="store_true")
    p.add_argument("--competitors", help="comma list of names to run, e.g. mpugui,'boto3 "
                   "defaults' (default: all; --quick runs mpugui and boto3 defaults on WAN)")
    p.add_argument("--concurrency", type=int, default=8,
                   help="'boto3 ours' thread count on loopback (mpugui's settled value)")
    args = p.parse_args(argv)
    only = set(args.only.split(",")) if args.only else {
        "loopback", "wan20", "wan80", "wan150", "memory", "resume", "gui"}
    rounds = args.rounds or (2 if args.quick else 3)
    command = "python -m tests.bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    result: dict = {"machine": machine(), "command": command.strip(), "scenarios": [],
                    "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    home = Path(tempfile.mkdtemp(prefix="mpugui-bench-"))
    # WAN file sizes: each run lasts >= ~15 s at the link rate (quick) or longer.
    wan_sizes = {"wan20": 1536, "wan80": 768, "wan150": 512} if args.quick else \
        {"wan20": 3072, "wan80": 1536, "wan150": 3072}
    try:
        with SinkServer() as sink:
            if "loopback" in only:
                f = data_file(args.size_mib * MiB)
                comps = pick(competitors(DEFAULT_PART_SIZE, args.concurrency,
                                         not args.no_rclone), args.competitors)
                runs = race("loopback", comps, f, sink.url, sink, rounds, home)
                result["scenarios"].append({"name": "loopback", "shape": None,
                                            "loadavg": os.getloadavg()[0],
                                            "rows": summarize(runs, None),
                                            "runs": [asdict(r) for r in runs]})
            for name in ("wan20", "wan80", "wan150"):
                if name not in only:
                    continue
                shape = SHAPES[name]
                f = data_file(wan_sizes[name] * MiB)
                wan = Wan(sink, shape)
                try:
                    settled = round(shape.needed_connections * 1.25 + 0.5)
                    comps = competitors(DEFAULT_PART_SIZE, settled, not args.no_rclone)
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
            if "memory" in only:
                result["memory"] = memory_scenario(sink, home, [GiB, 8 * GiB])
        if "resume" in only:
            result["resume"] = resume_scenario(home, GiB, SHAPES["wan20"], with_boto3=True)
        if "gui" in only:
            result["gui"] = gui_scenario()
    finally:
        shutil.rmtree(home, ignore_errors=True)
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
