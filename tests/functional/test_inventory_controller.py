"""The uploads browser's controller with no widget (engine/inventory_controller.py)
against moto's HTTP server: the listing page by page, each upload's parts,
and aborts one after the other on the TaskRunner's pool."""

from __future__ import annotations

from mpugui.core.inventory.errors import UploadGone
from mpugui.core.inventory.listing import Upload
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.engine.inventory_controller import InventoryController
from tests.functional.test_inventory import MOTO_INITIATED, remaining_ids, start_upload


def test_pages_parts_and_aborts_arrive_as_signals(qtbot, runner, s3, bucket, endpoint) -> None:
    ids = {start_upload(s3, bucket, f"k/{n}.bin", [b"x" * (100 + n)] * (n + 1)): n
           for n in range(5)}
    inv = InventoryController(runner, ClientFactory(), page_size=2)
    pages: list[list[Upload]] = []
    parts: dict[str, int] = {}
    inv.page_listed.connect(lambda page, _region: pages.append(page))
    inv.parts_listed.connect(
        lambda u, ps: parts.__setitem__(u.upload_id, sum(p.size for p in ps)))
    with qtbot.waitSignal(inv.listing_done, timeout=15000):
        inv.start(endpoint, bucket, "k/")
    # (moto never truncates ListMultipartUploads: one page, whatever the page size)
    assert sum(len(p) for p in pages) == 5 and not inv.listing
    qtbot.waitUntil(lambda: len(parts) == 5 and not inv.counting(), timeout=15000)
    assert parts == {uid: (100 + n) * (n + 1) for uid, n in ids.items()}

    listed = [u for page in pages for u in page]
    results = []
    assert inv.run_aborts(listed[:3], on_done=results.extend) and inv.aborting
    qtbot.waitUntil(lambda: len(results) == 3, timeout=15000)
    assert all(r.ok for r in results) and not inv.aborting
    assert all(inv.cached_parts(u.upload_id) is None for u in listed[:3])
    assert remaining_ids(s3, bucket) == {u.upload_id for u in listed[3:]}

    # An upload aborted since it was listed: its parts request says so.
    failed = []
    inv.parts_failed.connect(lambda u, exc: failed.append((u, exc)))
    inv.want_parts(Upload(bucket, "k/0.bin", listed[0].upload_id, MOTO_INITIATED))
    qtbot.waitUntil(lambda: bool(failed), timeout=15000)
    assert isinstance(failed[0][1], UploadGone)


def test_a_new_listing_drops_the_answers_of_the_old(qtbot, runner, s3, bucket, endpoint) -> None:
    start_upload(s3, bucket, "a.bin", [b"a"])
    inv = InventoryController(runner, ClientFactory())
    pages: list[list[Upload]] = []
    inv.page_listed.connect(lambda page, _region: pages.append(page))
    inv.start(endpoint, bucket, "")
    assert inv.stop() is True and inv.stop() is None  # nothing left to stop
    # Counted, not waited for with qtbot.waitSignal: once, in a CI run,
    # pytest-qt's blocker failed to disconnect itself from the signal and
    # PySide6 raised that warning as an error inside the slot.
    done: list[None] = []
    inv.listing_done.connect(lambda: done.append(None))
    inv.start(endpoint, bucket, "")
    qtbot.waitUntil(lambda: bool(done), timeout=15000)
    assert done == [None]  # one listing_done: the stopped listing's is dropped too
    assert len(pages) == 1 and inv.run_aborts([]) is False
