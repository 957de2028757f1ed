"""The All buckets tab's two tables: the buckets (a bar of bytes held
coloured by age, sorted by cost, the most expensive first) over the selected
bucket's uploads (the largest first), each sorted through its own proxy."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from mpugui.ui.uploads.all_buckets.bucket_bar import BucketBarDelegate
from mpugui.ui.uploads.all_buckets.buckets_model import BYTES, COST, SORT_ROLE, BucketsModel
from mpugui.ui.uploads.models import BYTES as UPLOAD_BYTES
from mpugui.ui.uploads.models import SORT_ROLE as UPLOAD_SORT_ROLE
from mpugui.ui.uploads.models import UploadsModel


def sorting_proxy(model: BucketsModel | UploadsModel, role: int,
                  parent: QObject) -> QSortFilterProxyModel:
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(role)
    return proxy


def buckets_table(model: BucketsModel, parent: QObject) -> tuple[QTableView,
                                                                QSortFilterProxyModel]:
    """A row per bucket; the table and its proxy."""
    proxy = sorting_proxy(model, SORT_ROLE, parent)
    table = QTableView()
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.sortByColumn(COST, Qt.SortOrder.DescendingOrder)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.setItemDelegateForColumn(BYTES, BucketBarDelegate(table))
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    for col, width in enumerate((240, 110, 80, 330, 120, 90)):
        table.setColumnWidth(col, width)
    return table, proxy


def bucket_uploads_table(model: UploadsModel, parent: QObject) -> tuple[QTableView,
                                                                       QSortFilterProxyModel]:
    """A row per upload of the selected bucket; the table and its proxy."""
    proxy = sorting_proxy(model, UPLOAD_SORT_ROLE, parent)
    table = QTableView()
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.sortByColumn(UPLOAD_BYTES, Qt.SortOrder.DescendingOrder)
    for col, width in enumerate((240, 130, 130, 80, 150, 110, 60, 100, 120)):
        table.setColumnWidth(col, width)
    return table, proxy
