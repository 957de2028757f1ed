"""The In-progress tab's and the All buckets tab's models (ui/uploads/models.py)
and their sorting proxies, as the browser and the account view set them up,
under qtmodeltester (Qt's QAbstractItemModelTester) through every change they
make: pages appended, part counts and journal links arriving, removals
scattered over a sorted view, a price change, a reset."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from PySide6.QtCore import QSortFilterProxyModel, Qt

from mpugui.core.inventory.listing import PartInfo, Upload, Usage
from mpugui.core.orphans.prices import PriceTable
from mpugui.ui.uploads.models import (
    BYTES,
    SORT_ROLE,
    UploadPartsModel,
    UploadRow,
    UploadsModel,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


def upload(i: int) -> Upload:
    return Upload("b", f"k/{i:04d}", f"u{i:04d}", NOW - timedelta(hours=i * 7 % 50),
                      storage_class=("STANDARD", "STANDARD_IA")[i % 2])


def model_failures(qtlog) -> list[str]:
    return [r.message for r in qtlog.records if "FAIL" in r.message]


def test_uploads_model_and_its_sorted_proxy_through_every_change(qtmodeltester, qtlog) -> None:
    model = UploadsModel(lambda: NOW, 0.023)
    proxy = QSortFilterProxyModel()  # as UploadsBrowser and AccountView make it
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(BYTES, Qt.SortOrder.DescendingOrder)
    testers = []
    for m in (model, proxy):
        qtmodeltester.check(m)
        testers.append(qtmodeltester._qt_tester)  # check() keeps only the last
    model.add_page([UploadRow(upload(i)) for i in range(60)])
    model.add_page([UploadRow(upload(i)) for i in range(50, 120)])  # overlap: skipped
    assert model.rowCount() == proxy.rowCount() == 120
    for i in range(0, 120, 3):
        model.set_usage(f"u{i:04d}", Usage(i % 5, i * 1000))
    model.set_usage("u0001", None, "AccessDenied")
    model.set_journal("u0004", 7, "paused")
    model.set_usage("nope", Usage(1, 1))  # an upload no longer listed: ignored
    sizes = [proxy.index(r, BYTES).data(SORT_ROLE) for r in range(proxy.rowCount())]
    assert sizes == sorted(sizes, reverse=True)
    model.remove({f"u{i:04d}" for i in range(0, 120, 7)} | {"nope"})
    assert model.rowCount() == proxy.rowCount() == 120 - 18
    assert model.row_of("u0007") is None and model.row(model.row_of("u0008")).upload.key == \
        "k/0008"
    model.set_prices(PriceTable().with_overrides({"STANDARD": 1.0}))  # a new price: every cost
    model.refresh_ages()
    model.clear()
    assert proxy.rowCount() == 0
    model.add_page([UploadRow(upload(i)) for i in range(5)])
    assert proxy.rowCount() == 5
    assert all(t is not None for t in testers)
    assert not model_failures(qtlog)


def test_parts_model_refills_under_the_model_tester(qtmodeltester, qtlog) -> None:
    model = UploadPartsModel()
    qtmodeltester.check(model)
    parts = [PartInfo(n, n * 100, f'"{n:032x}"', NOW) for n in range(1, 6)]
    model.set_parts(parts)
    assert model.rowCount() == 5
    model.set_parts(parts[:2])
    model.set_parts([])
    assert model.rowCount() == 0
    assert not model_failures(qtlog)
