"""The bucket's lifecycle rule that aborts incomplete uploads after N days:
merged into its one lifecycle configuration (every other rule kept, an
existing abort rule updated), shown before and after, applied once."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from mpugui.core.inventory.lifecycle import (
    LifecycleChange,
    describe_rule,
    merge_abort_rule,
    read_lifecycle,
    set_abort_incomplete,
)
from mpugui.core.s3.endpoint import Endpoint
from mpugui.ui.common.messages import user_error
from mpugui.ui.common.screen_fit import size_to_screen
from mpugui.ui.uploads.in_progress.dialogs.common import (
    ERROR_STYLE,
    OK_STYLE,
    Browser,
    close_and,
    days_spin,
    parent_of,
    say,
)


class LifecycleDialog(QDialog):
    loaded = Signal(object)  # the rules before
    applied = Signal(object)  # inventory.LifecycleChange
    failed = Signal(str)

    def __init__(self, browser: Browser, endpoint: Endpoint, bucket: str,
                 prefix: str = "") -> None:
        super().__init__(parent_of(browser))
        self.setWindowTitle(f"Lifecycle rule of {bucket}")
        self.setModal(False)
        size_to_screen(self, QSize(640, 460), QSize(0, 0))
        self.browser, self.endpoint, self.bucket = browser, endpoint, bucket
        self.before: list[dict[str, Any]] | None = None
        self.change: LifecycleChange | None = None
        self._prefix = prefix

        self.days = days_spin(1, self._preview)
        self.only_prefix = QCheckBox(f"Only keys under '{prefix}'")
        self.only_prefix.setVisible(bool(prefix))
        self.only_prefix.toggled.connect(self._preview)
        form = QHBoxLayout()
        form.addWidget(QLabel("Abort incomplete uploads after"))
        form.addWidget(self.days)
        form.addWidget(self.only_prefix)
        form.addStretch(1)
        note = QLabel("This rule is added to the bucket's lifecycle rules (a bucket keeps "
                      "them all in one configuration): every other rule is kept, and an "
                      "existing abort rule is updated rather than duplicated.")
        note.setWordWrap(True)
        self.before_text = QPlainTextEdit()
        self.before_text.setReadOnly(True)
        self.after_text = QPlainTextEdit()
        self.after_text.setReadOnly(True)
        self.status = QLabel("Reading the bucket's lifecycle rules …")
        self.status.setWordWrap(True)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        buttons = close_and(self, self.apply_button, QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(QLabel("Before:"))
        layout.addWidget(self.before_text, 1)
        layout.addWidget(QLabel("After:"))
        layout.addWidget(self.after_text, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.reload()

    def prefix(self) -> str:
        return self._prefix if self.only_prefix.isChecked() else ""

    def reload(self) -> None:
        clients, endpoint, bucket = self.browser.clients, self.endpoint, self.bucket
        self.browser.runner.run(lambda: read_lifecycle(clients.client(endpoint), bucket),
                                self._loaded, self._failed)

    def _loaded(self, result: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
        self.before = result[0]
        self._preview()
        self.loaded.emit(self.before)

    def _failed(self, exc: BaseException) -> None:
        sentence = user_error(exc)
        say(self.status, sentence, ERROR_STYLE)
        self.apply_button.setEnabled(self.before is not None)
        self.failed.emit(sentence)

    def _preview(self, *_: Any) -> None:
        if self.before is None:
            return
        after = merge_abort_rule(self.before, self.days.value(), self.prefix())
        self.before_text.setPlainText(_rules_text(self.before))
        self.after_text.setPlainText(_rules_text(after))
        changed = after != self.before
        say(self.status, "Apply writes the rules shown under After." if changed else
            "Nothing to change: the bucket already has this rule.")
        self.apply_button.setEnabled(changed)

    def apply(self) -> None:
        clients, endpoint, bucket = self.browser.clients, self.endpoint, self.bucket
        days, prefix = self.days.value(), self.prefix()
        self.apply_button.setEnabled(False)
        say(self.status, "Applying …")
        # Read-merge-write again in the task: a rule added meanwhile is kept.
        self.browser.runner.run(
            lambda: set_abort_incomplete(clients.client(endpoint), bucket, days, prefix),
            self._applied, self._failed)

    def _applied(self, change: LifecycleChange) -> None:
        self.change = change
        self.before = change.after
        self.before_text.setPlainText(_rules_text(change.before))
        self.after_text.setPlainText(_rules_text(change.after))
        say(self.status, f"Applied: incomplete uploads are aborted {change.days} days after "
                         "they start." if change.applied else
            "Nothing to change: the bucket already has this rule.", OK_STYLE)
        self.applied.emit(change)


def _rules_text(rules: list[dict[str, Any]]) -> str:
    rules_text = "\n".join(describe_rule(r) for r in rules)
    return rules_text or "(none yet: the bucket has no lifecycle rules)"
