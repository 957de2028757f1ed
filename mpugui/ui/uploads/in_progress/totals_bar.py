"""The In-progress tab's footer: what the listed uploads hold (uploads,
parts, bytes, the estimated monthly cost, and how many are still being
counted), where the prices come from, and the button to set them."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from mpugui.core.orphans.prices import PriceTable
from mpugui.core.units import format_bytes
from mpugui.ui.uploads.models import Totals, format_cost


class TotalsBar(QWidget):
    prices_requested = Signal()  # "Storage prices…"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.totals = QLabel()
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.price_note = QLabel()
        self.price_note.setStyleSheet("color: gray;")
        self.price_note.setWordWrap(True)  # a narrow window wraps it instead of cutting it
        self.prices_button = QPushButton("Storage prices…")
        self.prices_button.setToolTip("Set your store's price per GB-month (Settings > "
                                      "Storage prices); the All buckets tab uses the same")
        self.prices_button.clicked.connect(self.prices_requested)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.totals, 1)
        row.addWidget(self.price_note, 1)
        row.addWidget(self.prices_button)

    def show_totals(self, t: Totals, *, counting: bool) -> None:
        """`counting`: parts are still being listed (else the pending rows'
        counts failed)."""
        text = (f"<b>{t.uploads:,}</b> {'upload' if t.uploads == 1 else 'uploads'} · "
                f"<b>{t.parts:,}</b> {'part' if t.parts == 1 else 'parts'} · "
                f"<b>{format_bytes(t.bytes)}</b> held · estimated "
                f"<b>{format_cost(t.cost)}</b> a month")
        if t.pending and counting:
            text += f" <span style='color:gray'>(counting the parts of {t.pending} …)</span>"
        elif t.pending:
            text += (f" <span style='color:gray'>(the parts of {t.pending} were not counted; "
                     "List again to count them)</span>")
        self.totals.setText(text)

    def show_prices(self, table: PriceTable, region: str | None, error: str | None) -> None:
        """Where the estimate's prices come from; `error`: why the user's
        prices.json could not be used."""
        note = "Estimated from " + table.describe(region)
        self.price_note.setText(f"{note} (prices.json could not be used)" if error else note)
        self.price_note.setToolTip(error or "An estimate, not a bill: no tiers, "
                                   "minimum durations or request charges")
