"""The AWS profile an account uses: the profiles read from the AWS config
files (SSO included; the combo offers the default credential chain first),
a button that reads them again, and a one-line note on the chosen one (its
kind and region, or why it cannot be used)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from mpugui.core.aws_profiles import (
    CONFIG,
    PROCESS,
    ROLE,
    SSO,
    WEB_IDENTITY,
    Profile,
    list_profiles,
)
from mpugui.core.aws_profiles import KEYS as PROFILE_KEYS
from mpugui.core.units import plural
from mpugui.ui.common.icons import icon

_KIND_WORDS = {SSO: "SSO", PROFILE_KEYS: "access key", ROLE: "role",
               PROCESS: "credential process", WEB_IDENTITY: "web identity",
               CONFIG: "settings only"}


class ProfileChooser(QWidget):
    """The combo and its reload button, as one form field; `note` is the
    row under it."""

    changed = Signal()  # the user (or a fill) chose another profile; not a reload

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profiles: list[Profile] = []
        self._problem: str | None = None  # the config files cannot be read
        self._reloading = False
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(24)
        self.combo.currentIndexChanged.connect(self._index_changed)
        self.reload_button = QPushButton(icon("retry"), "")
        self.reload_button.setToolTip("Read the AWS config files again")
        self.reload_button.setAccessibleName("Reload profiles")
        self.reload_button.clicked.connect(self.reload)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.reload_button)
        self.note = QLabel()
        self.note.setEnabled(False)  # muted, like a hint

    def current(self) -> str | None:
        """The chosen profile's name; None for the default chain."""
        return self.combo.currentData()

    def knows(self, name: str) -> bool:
        """Whether the AWS config files hold the profile `name`."""
        return any(p.name == name for p in self.profiles)

    def reload(self) -> None:
        """Read the AWS config files again, keeping the choice."""
        listing = list_profiles()
        self.profiles = listing.profiles
        current = self.current() if self.combo.count() else None
        self._reloading = True
        self.combo.clear()
        self.combo.addItem("Default credential chain (environment, AWS_PROFILE, "
                           "instance role…)", None)
        for p in self.profiles:
            self.combo.addItem(icon("accounts"), f"{p.name}  ({_KIND_WORDS[p.kind]})", p.name)
        self.select(current)
        self._reloading = False
        self._problem = listing.problem
        self.update_note()

    def select(self, name: str | None) -> None:
        index = self.combo.findData(name)
        if index < 0 and name:
            # Keep an account's profile visible even if the config lost it.
            self.combo.addItem(f"{name} (not in the AWS config)", name)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(max(0, index))

    def _index_changed(self) -> None:
        if not self._reloading:
            self.changed.emit()
        self.update_note()

    def update_note(self) -> None:
        # One line, no wrapping: a wrapped label in a form reserves more
        # height than it uses. The longer advice goes to the tooltip.
        name = self.current()
        profile = next((p for p in self.profiles if p.name == name), None)
        tip = ""
        if self._problem:
            text = tip = self._problem
        elif profile is None and name:
            text = f"The profile '{name}' is not in the AWS config files."
        elif profile is None:
            text = (f"Environment variables, then the default profile "
                    f"({plural(len(self.profiles), 'profile')} found).")
            tip = ("The standard AWS chain: AWS_ACCESS_KEY_ID / AWS_PROFILE, the default "
                   "profile, SSO, then an instance or container role.")
        else:
            text = profile.detail
            if profile.region:
                text += f" · region {profile.region}"
            if profile.kind == SSO:
                tip = f"If the sign-in has expired, run: aws sso login --profile {profile.name}"
        self.note.setText(text)
        self.note.setToolTip(tip)
