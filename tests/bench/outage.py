"""Outage figures (README, "Outages"): the engine, tests/faultproxy.py and
moto in one process, printed as JSON. Not a test; run by hand:

    python -m tests.bench.outage small --files 3000      # refused 6 s mid-folder
    python -m tests.bench.outage frozen --mib 60 --freeze 8
    python -m tests.bench.outage waiting --files 100000  # queued while refused

Probe delays are shortened (0.5 s doubling to 2 s) so a run takes seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HOME = tempfile.mkdtemp(prefix="mpugui-outage-bench-")
os.environ.update(MPUGUI_HOME=HOME, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=f"{HOME}/none",
                  AWS_SHARED_CREDENTIALS_FILE=f"{HOME}/none")

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402
from PySide6.QtCore import QCoreApplication  # noqa: E402

from mpugui.core.journal.store import Journal  # noqa: E402
from mpugui.core.s3.endpoint import ClientFactory, Endpoint  # noqa: E402
from mpugui.core.units import MiB  # noqa: E402
from mpugui.engine.engine import EngineSettings, TransferEngine, UploadRequest  # noqa: E402
from tests.conftest import make_file  # noqa: E402
from tests.faultproxy import FaultProxy  # noqa: E402

FAST = {"probe_first": 0.5, "probe_cap": 2.0}


class Bench:
    def __init__(self) -> None:
        self.app = QCoreApplication.instance() or QCoreApplication([])
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.s3 = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1")
        self.dir = Path(tempfile.mkdtemp(prefix="files-", dir=HOME))

    def bucket(self) -> str:
        name = f"outage-{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=name)
        return name

    def engine(self, name: str, read_timeout: float = 60, **settings: Any) -> TransferEngine:
        st = EngineSettings(part_size=5 * MiB, threshold=5 * MiB, **FAST)
        for k, v in settings.items():
            setattr(st, k, v)
        return TransferEngine(Journal(Path(HOME) / f"{name}.sqlite3"),
                              ClientFactory(8, read_timeout=read_timeout), st)

    def spin(self, pred: Callable[[], bool], timeout: float) -> None:
        end = time.monotonic() + timeout
        while not pred():
            self.app.processEvents()
            time.sleep(0.005)
            if time.monotonic() > end:
                raise SystemExit("timed out")

    def close(self) -> None:
        self.server.stop()


def small(b: Bench, n: int) -> dict[str, Any]:
    """n x 1 KiB; connections refused for 6 s once a tenth is done."""
    bucket = b.bucket()
    files = [make_file(b.dir / f"s{i}", 1024, seed=i) for i in range(n)]
    with FaultProxy(b.url) as proxy:
        eng = b.engine("small")
        ep = Endpoint(endpoint_url=proxy.url, region="us-east-1")
        t0 = time.monotonic()
        eng.add_many([UploadRequest(str(f), bucket, f.name, ep) for f in files])
        b.spin(lambda: eng.current_snapshot().done >= n // 10, 600)
        rate_before = eng.current_snapshot().done / (time.monotonic() - t0)
        proxy.refuse()
        t_out = time.monotonic()
        b.spin(lambda: eng.current_snapshot().count("waiting") + eng.current_snapshot().done
               == n, 600)
        t_all_waiting = time.monotonic() - t_out
        done_at_outage = eng.current_snapshot().done
        b.spin(lambda: time.monotonic() - t_out > 6, 60)
        probes_down = eng.probes_sent
        proxy.accept()
        t_back = time.monotonic()
        b.spin(lambda: eng.current_snapshot().done == n and not eng.busy(), 1200)
        t_resume = time.monotonic() - t_back
        result = dict(files=n, files_per_s_before=round(rate_before),
                      files_per_s_after=round((n - done_at_outage) / t_resume),
                      done_before_outage=done_at_outage,
                      s_until_all_waiting=round(t_all_waiting, 2),
                      probes_while_down=probes_down, probes=eng.probes_sent,
                      probes_reaching_server=proxy.count("HeadBucket", status=None),
                      puts_stored_twice=proxy.count("PutObject") - n)
        eng.shutdown()
        eng.journal.close()
    return result


def frozen(b: Bench, mib: int, freeze: float) -> dict[str, Any]:
    """One file, 4 parts in flight; the link freezes (blackhole) for `freeze` s."""
    bucket = b.bucket()
    src = make_file(b.dir / "big", mib * MiB, seed=1)
    with FaultProxy(b.url) as proxy:
        eng = b.engine("frozen", read_timeout=2, concurrency=4)
        tid = eng.add(UploadRequest(str(src), bucket, "big",
                                    Endpoint(endpoint_url=proxy.url, region="us-east-1")))
        b.spin(lambda: eng.current_snapshot().by_id(tid).parts_done >= 3, 600)
        proxy.blackhole()
        t0 = time.monotonic()
        b.spin(lambda: time.monotonic() - t0 > freeze, freeze + 5)
        proxy.unblackhole()
        b.spin(lambda: eng.current_snapshot().by_id(tid).state in ("done", "failed")
               and not eng.busy(), 600)
        snap = eng.current_snapshot().by_id(tid)
        size = src.stat().st_size
        same = b.s3.get_object(Bucket=bucket, Key="big")["Body"].read() == src.read_bytes()
        result = dict(mib=mib, freeze_s=freeze, state=snap.state, identical=same,
                      stored_again=proxy.body_bytes() - size, sent_again=snap.wire_bytes - size,
                      in_flight_bound=4 * 5 * MiB, retries=snap.retries, probes=eng.probes_sent)
        eng.shutdown()
        eng.journal.close()
    return result


def waiting(b: Bench, n: int) -> dict[str, Any]:
    """n x 1 B queued while the endpoint refuses; then it answers."""
    bucket = b.bucket()
    for i in range(n):
        (b.dir / f"w{i}").write_bytes(b"x")
    with FaultProxy(b.url) as proxy:
        proxy.refuse()
        eng = b.engine("waiting")
        published: list[tuple[float, float, int]] = []
        real_publish = eng.publish

        def timed(everything: bool = False) -> Any:
            t = time.monotonic()
            snap = real_publish(everything)
            published.append((t, time.monotonic() - t, len(snap.events) if snap else 0))
            return snap
        eng.publish = timed  # type: ignore[method-assign]
        ep = Endpoint(endpoint_url=proxy.url, region="us-east-1")
        t0 = time.monotonic()
        for i in range(0, n, 5000):
            eng.add_many([UploadRequest(str(b.dir / f"w{j}"), bucket, f"w{j}", ep)
                          for j in range(i, min(n, i + 5000))])
        t_added = time.monotonic() - t0
        b.spin(lambda: eng.current_snapshot().count("waiting") == n, 900)
        t_waiting = time.monotonic() - t0
        p0, tw = eng.probes_sent, time.monotonic()
        b.spin(lambda: time.monotonic() - tw > 10, 20)
        probes_10s = eng.probes_sent - p0
        idle = sum(1 for t, _, _ in published if t > tw)
        proxy.accept()
        ta = time.monotonic()
        b.spin(lambda: eng.current_snapshot().count("waiting") == 0, 900)
        tn = time.monotonic()
        during = [(d, e) for t, d, e in published if ta < t < tn]
        result = dict(files=n, s_to_add=round(t_added, 1),
                      s_all_waiting_after_last_add=round(t_waiting - t_added, 1),
                      probes_in_10s_down=probes_10s, snapshots_in_10s_down=idle,
                      s_until_none_waiting=round(tn - ta, 1),
                      max_events_per_tick_resuming=max((e for _, e in during), default=0),
                      max_publish_ms_resuming=round(1000 * max((d for d, _ in during), default=0)),
                      peak_rss_mib_with_moto=resource.getrusage(
                          resource.RUSAGE_SELF).ru_maxrss // 1024)
        eng.pause_all()
        b.spin(lambda: not eng.busy(), 900)
        eng.shutdown()
        eng.journal.close()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("scenario", choices=("small", "frozen", "waiting"))
    p.add_argument("--files", type=int, default=3000)
    p.add_argument("--mib", type=int, default=60)
    p.add_argument("--freeze", type=float, default=8.0)
    args = p.parse_args()
    b = Bench()
    try:
        if args.scenario == "small":
            out = small(b, args.files)
        elif args.scenario == "frozen":
            out = frozen(b, args.mib, args.freeze)
        else:
            out = waiting(b, args.files)
    finally:
        b.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
