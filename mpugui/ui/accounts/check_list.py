"""What Test connection shows: one row per check (icon and sentence), the
summary line, and the warning label the account forms use."""

from __future__ import annotations

from PySide6.QtCore import (
    QSize,
    Qt,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.preflight import Check
from mpugui.ui.common.icons import icon

# Status colours chosen to read on both light and dark palettes.
OK_COLOR, BAD_COLOR, UNKNOWN_COLOR, WARN_COLOR = "#2e9d4e", "#d64545", "#8a8f98", "#c98a00"


def warning_label(text: str = "", color: str = WARN_COLOR) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setStyleSheet(f"color: {color};")
    # Wrapped text gets its height for a narrower width; keep it at the top.
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return label


class CheckList(QWidget):
    """Pre-flight results: one row per check, an icon and a sentence."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self.rows: list[tuple[Check, QLabel]] = []
        self._widgets: list[QWidget] = []

    def clear(self) -> None:
        for widget in self._widgets:
            self._layout.removeWidget(widget)
            widget.hide()
            widget.deleteLater()
        self._widgets = []
        self.rows = []

    def set_checks(self, checks: list[Check]) -> None:
        self.clear()
        for check in checks:
            self._add(check)
        # Wrapped labels report a small minimum; ask for the natural height
        # so a short window scrolls the results instead of overlapping them.
        self.setMinimumHeight(self._layout.sizeHint().height() if checks else 0)

    def _add(self, check: Check) -> None:
        name, color, word = {
            True: ("done", OK_COLOR, "passed"),
            False: ("failed", BAD_COLOR, "failed"),
            None: ("cancelled", UNKNOWN_COLOR, "not tested"),
        }[check.ok]
        row_widget = QWidget()
        row = QHBoxLayout(row_widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        pic = QLabel()
        pic.setPixmap(icon(name, color).pixmap(QSize(20, 20)))
        pic.setAlignment(Qt.AlignmentFlag.AlignTop)
        pic.setAccessibleName(f"{check.name}: {word}")
        text = QLabel(f"<b>{_html(check.name)}</b> — {_html(check.sentence)}")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(pic)
        row.addWidget(text, 1)
        self._layout.addWidget(row_widget)
        self._widgets.append(row_widget)
        self.rows.append((check, text))


def test_summary(checks: list[Check]) -> str:
    """The status line beside the buttons, short: the sentences are in the
    results above it."""
    failed = [c.name for c in checks if c.ok is False]
    if failed:
        names = failed[0] if len(failed) == 1 else ", ".join(failed[:-1]) + " and " + failed[-1]
        return f"{names} failed; see the results above."
    if all(c.ok for c in checks):
        return f"All {len(checks)} checks passed."
    if checks and checks[0].ok:
        return "The credentials work; enter a bucket to test it too."
    return "Some checks could not be run."


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
