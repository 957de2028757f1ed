"""The Accounts dialog's list: saved accounts, two lines each (name, and
what tells it apart)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import (
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from mpugui.core.accounts import KEYS, Account
from mpugui.ui.common.icons import icon


def account_summary(account: Account) -> str:
    """One line that tells accounts apart in a list."""
    if account.kind == KEYS:
        key = account.access_key_id or ""
        who = f"Access key {key[:4]}…{key[-4:]}" if len(key) > 10 else f"Access key {key}"
    elif account.profile:
        who = f"AWS profile {account.profile}"
    else:
        who = "Default AWS credentials"
    bits = [who, account.endpoint_url or "Amazon S3"]
    if account.region:
        bits.append(account.region)
    if account.path_style:
        bits.append("path-style")
    if not account.verify_tls:
        bits.append("TLS not verified")
    return " · ".join(bits)



_ROOT = QModelIndex()  # the invalid index: "no parent"


class AccountListModel(QAbstractListModel):
    """The saved accounts, for the list on the left."""

    DetailRole = Qt.ItemDataRole.UserRole + 1
    AccountRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._accounts: list[Account] = []

    def set_accounts(self, accounts: list[Account]) -> None:
        self.beginResetModel()
        self._accounts = sorted(accounts, key=lambda a: a.name.lower())
        self.endResetModel()

    def accounts(self) -> list[Account]:
        return list(self._accounts)

    def row_of(self, name: str) -> int:
        return next((i for i, a in enumerate(self._accounts) if a.name == name), -1)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._accounts)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._accounts):
            return None
        account = self._accounts[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return account.name
        if role in (Qt.ItemDataRole.ToolTipRole, self.DetailRole):
            return account_summary(account)
        if role == Qt.ItemDataRole.DecorationRole:
            return icon("accounts")
        if role == self.AccountRole:
            return account
        return None


class TwoLineDelegate(QStyledItemDelegate):
    """Name on the first line, a muted summary on the second."""

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        fm = option.fontMetrics
        return QSize(200, fm.height() * 2 + 14)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.icon = icon("accounts")  # keep the decoration, drawn by the style
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            opt.decorationSize = QSize(20, 20)
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        group = QPalette.ColorGroup.Active if opt.state & QStyle.StateFlag.State_Active \
            else QPalette.ColorGroup.Inactive
        text_color = opt.palette.color(
            group, QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        muted = QColor(text_color)
        muted.setAlphaF(0.65)
        rect = option.rect.adjusted(36, 6, -6, -6)
        fm = option.fontMetrics
        painter.save()
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text_color)
        name = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.drawText(QRect(rect.left(), rect.top(), rect.width(), fm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(name, Qt.TextElideMode.ElideRight, rect.width()))
        painter.setFont(option.font)
        painter.setPen(muted)
        detail = str(index.data(AccountListModel.DetailRole) or "")
        painter.drawText(QRect(rect.left(), rect.top() + fm.height() + 2, rect.width(),
                               fm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(detail, Qt.TextElideMode.ElideRight, rect.width()))
        painter.restore()
