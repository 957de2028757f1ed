"""Settings ▸ Storage prices: the user's price per GB-month for the cost
estimates of both uploads tabs and the CLI (kept in prices.json, read by
core/orphans/prices.py).

What a user of an S3-compatible store needs: the store's own price, for
every class at once (Wasabi, B2 and MinIO bill one flat price) or class by
class (R2 has Standard and Infrequent Access). A price belongs to the store
(its host), not to an account: two accounts on one store, or `--endpoint-url`
naming it, get the same price. "Every store" rows change AWS's table itself
(a negotiated price, a region's class), and apply to stores without prices
of their own.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.accounts import AccountStore
from mpugui.core.errors import MpuguiError
from mpugui.core.orphans.prices import (
    PRICES_AS_OF,
    STORAGE_CLASSES,
    check_prices,
    read_prices,
    save_prices,
    store_key,
)
from mpugui.ui.common.screen_fit import size_to_screen

EVERY_STORE = "Every store (AWS's table)"
EVERY_CLASS = "Every class"
STORE, CLASS, REGION, PRICE = range(4)
Row = tuple[str, str, str, str]  # store, class, region, price: as the user typed them


class PricesDialog(QDialog):
    saved = Signal()  # prices.json was written: the views price again

    def __init__(self, accounts: AccountStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Storage prices")
        self.accounts = accounts
        intro = QLabel(
            f"Cost estimates use AWS's published prices (of {PRICES_AS_OF}) for each storage "
            "class and region. A store that is not AWS (Wasabi, Cloudflare R2, Backblaze B2, "
            "MinIO, …) bills its own price: set it here, for every class or class by class. "
            "Prices are US dollars per GB-month (2^30 bytes held for a month).")
        intro.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Store", "Storage class", "Region (optional)",
                                              "USD per GB-month"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(STORE, QHeaderView.ResizeMode.Stretch)
        for col, width in ((CLASS, 170), (REGION, 130), (PRICE, 130)):
            header.resizeSection(col, width)
        self.add_button = QPushButton("Add a price")
        self.add_button.clicked.connect(lambda: self.add_row())
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        edit = QHBoxLayout()
        edit.addWidget(self.add_button)
        edit.addWidget(self.remove_button)
        edit.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(edit)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._stores = self._known_stores()
        self._load()
        size_to_screen(self, QSize(760, 420), QSize(560, 320))

    # -- rows -----------------------------------------------------------------------------

    def _known_stores(self) -> list[str]:
        """The hosts of the saved accounts that are not AWS."""
        try:
            hosts = {store_key(a.endpoint_url) for a in self.accounts.load()}
        except MpuguiError:
            hosts = set()
        return sorted(h for h in hosts if h)

    def _load(self) -> None:
        try:
            overrides, stores = read_prices()
        except MpuguiError as exc:
            self.error.setText(f"{exc} Saving replaces the file.")
            return
        for key, price in overrides.items():
            self.add_row(EVERY_STORE, *_split(key), price)
        for host, prices in stores.items():
            for key, price in prices.items():
                self.add_row(host, *_split(key), price)

    def add_row(self, store: str | None = None, cls: str = EVERY_CLASS, region: str = "",
                price: float | None = None) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        store_box = QComboBox()
        store_box.setEditable(True)
        store_box.addItems([EVERY_STORE, *self._stores])
        store_box.setToolTip("A store's host (as in its endpoint URL), or every store")
        store_box.setCurrentText(store if store is not None else
                                 (self._stores[0] if self._stores else EVERY_STORE))
        class_box = QComboBox()
        class_box.setEditable(True)
        class_box.addItems([EVERY_CLASS, *STORAGE_CLASSES])
        class_box.setCurrentText(cls)
        region_edit = QLineEdit(region)
        region_edit.setPlaceholderText("every region")
        price_edit = QLineEdit("" if price is None else f"{price:g}")
        price_edit.setPlaceholderText("e.g. 0.0069")
        for col, widget in ((STORE, store_box), (CLASS, class_box), (REGION, region_edit),
                            (PRICE, price_edit)):
            self.table.setCellWidget(row, col, widget)
        return row

    def remove_selected(self) -> None:
        for row in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)

    def rows(self) -> list[Row]:
        out = []
        for row in range(self.table.rowCount()):
            store, cls = (self.table.cellWidget(row, c) for c in (STORE, CLASS))
            region, price = (self.table.cellWidget(row, c) for c in (REGION, PRICE))
            assert isinstance(store, QComboBox) and isinstance(cls, QComboBox)
            assert isinstance(region, QLineEdit) and isinstance(price, QLineEdit)
            out.append((store.currentText(), cls.currentText(), region.text(), price.text()))
        return out

    # -- saving ---------------------------------------------------------------------------

    def save(self) -> bool:
        """Check every row; write prices.json and close, or say what is wrong
        (the row and why) and write nothing."""
        try:
            overrides, stores = parse_rows(self.rows())
            save_prices(overrides, stores)
        except MpuguiError as exc:
            self.error.setText(str(exc))
            return False
        self.error.setText("")
        self.saved.emit()
        self.accept()
        return True


def _split(key: str) -> tuple[str, str]:
    """A prices.json key as (class, region) for the table's cells."""
    region, _, cls = key.rpartition("/")
    return (EVERY_CLASS if cls == "*" else cls), region


def parse_rows(rows: list[Row]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The table's rows as prices.json's two parts, or MpuguiError with a
    sentence naming the row."""
    overrides: dict[str, float] = {}
    stores: dict[str, dict[str, float]] = {}
    for n, (store_text, cls_text, region_text, price_text) in enumerate(rows, start=1):
        store, cls, region, text = (store_text.strip(), cls_text.strip(),
                                    region_text.strip().lower(), price_text.strip())
        if not text:
            raise MpuguiError(f"Row {n}: give a price in US dollars per GB-month, e.g. 0.0069.")
        try:
            price = float(text.removeprefix("$"))
        except ValueError:
            raise MpuguiError(f"Row {n}: '{price_text}' is not a price: give US dollars per "
                              "GB-month, e.g. 0.0069.") from None
        every_store = store in ("", EVERY_STORE)
        if region and not every_store:
            raise MpuguiError(f"Row {n}: a store's price applies in every region; leave the "
                              "region empty (regions are for AWS's table).")
        every_class = cls in ("", EVERY_CLASS, "*")
        if region and every_class:
            raise MpuguiError(f"Row {n}: a region needs a storage class (e.g. STANDARD).")
        key = "*" if every_class else (f"{region}/{cls}" if region else cls)
        host = "" if every_store else store_key(store)
        if not every_store and (not host or " " in store):
            raise MpuguiError(f"Row {n}: '{store}' is not a store's host or endpoint URL "
                              "(e.g. s3.wasabisys.com).")
        try:
            checked = check_prices({key: price})
        except ValueError as exc:
            raise MpuguiError(f"Row {n}: {exc}") from None
        target = overrides if every_store else stores.setdefault(host, {})
        (name, value), = checked.items()
        if name in target:
            raise MpuguiError(f"Row {n}: this price is set twice ({store or EVERY_STORE}, "
                              f"{cls or EVERY_CLASS}); remove one of the rows.")
        target[name] = value
    return overrides, stores
