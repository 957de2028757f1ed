"""The collector policy (core/gc_policy.py): survivors of a full collection
are frozen, garbage is still collected, and what the engine forgets is freed
by reference counting alone (frozen, a cycle would never be)."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from tests.conftest import make_file

# In a child process: frozen, the test process's own garbage (widgets of
# earlier tests) would be collected late, in another test's Qt state.
_CHILD = """
import gc, weakref
from mpugui.core import gc_policy

class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it

gc_policy.install()
kept = [Node() for _ in range(100)]
gc.collect()
frozen = gc.get_freeze_count()
assert frozen > len(kept), frozen  # the survivors are frozen
gone = weakref.ref(Node())
assert gone() is not None  # a cycle: not freed by reference counting
gc.collect()
assert gone() is None  # new garbage is still collected
assert gc.get_freeze_count() >= frozen
print("ok")
"""


def test_a_full_collection_freezes_its_survivors_and_garbage_is_still_collected() -> None:
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_removed_transfer_is_freed_without_the_cyclic_collector(
        engine_factory, bucket: str, moto_url: str, tmp_path: Path) -> None:
    from mpugui.core.s3.endpoint import Endpoint

    engine = engine_factory()
    endpoint = Endpoint(endpoint_url=moto_url, region="us-east-1")
    small = make_file(tmp_path / "small.bin", 1000, seed=1)
    big = make_file(tmp_path / "big.bin", 12 * MiB, seed=2)
    ids, problems = engine.add_many([UploadRequest(str(small), bucket, "small.bin", endpoint),
                                     UploadRequest(str(big), bucket, "big.bin", endpoint)],
                                    paused=True)
    assert not problems
    engine.publish()
    kinds = (type(engine._by_id[ids[0]]), type(engine._by_id[ids[0]].parts[0]))
    # With DEBUG_SAVEALL what the cyclic collector frees is kept in gc.garbage
    # to look at (the classes have __slots__: no weak references).
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert engine.remove(ids) == ids
        engine.publish()  # the table forgets their snapshots
        gc.collect()
        cyclic = [o for o in gc.garbage if isinstance(o, kinds)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert cyclic == []


_HELD = """
import gc
from mpugui.core import gc_policy

gc_policy.hold()
assert not gc.isenabled()
made = [[] for _ in range(1000)]  # start-up's objects
gc_policy.release()
assert gc.isenabled() and gc.get_freeze_count() >= len(made)  # frozen, collected no more
gc_policy.release()  # a second release changes nothing
print("ok")
"""


def test_start_up_is_not_collected_and_its_objects_are_frozen_after() -> None:
    done = subprocess.run([sys.executable, "-c", _HELD], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
