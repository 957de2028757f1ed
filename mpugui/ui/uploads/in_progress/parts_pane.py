"""The In-progress tab's details pane: the parts of the one selected upload
(number, size, ETag, when uploaded) under a title that says whose parts they
are, that they are being listed, or why they cannot be."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QAbstractItemView, QLabel, QTableView, QVBoxLayout, QWidget

from mpugui.core.inventory.listing import PartInfo, Upload, usage
from mpugui.core.units import format_bytes, plural
from mpugui.ui.uploads.models import UploadPartsModel

NONE_SELECTED = "Select an upload to see its parts."


class PartsPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = UploadPartsModel(self)
        self.title = QLabel(NONE_SELECTED)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        for col, width in enumerate((60, 100, 270, 130)):
            header.resizeSection(col, width)
        header.setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table)

    def show_none(self, selected: int = 0) -> None:
        """No one upload selected: `selected` of them, or none."""
        self.model.set_parts([])
        self.title.setText(f"{selected} uploads selected." if selected else NONE_SELECTED)

    def show_listing(self, upload: Upload) -> None:
        self.model.set_parts([])
        self.title.setText(f"Listing the parts of {upload.key} …")

    def show_parts(self, upload: Upload, parts: list[PartInfo]) -> None:
        self.model.set_parts(parts)
        use = usage(parts)
        algo = f", {upload.checksum_algorithm} checksums" if upload.checksum_algorithm else ""
        self.title.setText(
            f"<b>{escape(upload.key, quote=False)}</b> — upload "
            f"{escape(upload.upload_id, quote=False)}: {plural(use.parts, 'part')}, "
            f"{format_bytes(use.bytes)}{algo}")

    def show_error(self, upload: Upload, sentence: str) -> None:
        self.title.setText(f"Parts of {upload.key}: {sentence}")
