"""What the queue's columns show: their names and header tips, and for one
transfer and column its text, sort key, tooltip, icon and colour — answered
through a role table, one dict look-up per data() call (a repaint asks ~8
roles of each visible cell, most of which are None)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import Qt

from mpugui.core.states import (
    ASSEMBLING,
    CANCELLED,
    DONE,
    FAILED,
    PAUSED,
    QUEUED,
    UPLOADING,
    VERIFYING,
    WAITING,
)
from mpugui.core.transfer.snapshot import TransferSnapshot
from mpugui.core.units import format_bytes, format_duration, format_rate, plural
from mpugui.ui.common import icons
from mpugui.ui.common.palette import state_color, state_hex
from mpugui.ui.queue.progress_delegate import BAR_ROLE, FRACTION_ROLE, STATE_ROLE

NAME, DESTINATION, SIZE, PROGRESS, SPEED, ETA, STATE, PARTS = range(8)
COLUMNS = ("Name", "Destination", "Size", "Progress", "Speed", "ETA", "State", "Parts")
HEADER_TIPS = (
    "The local file",
    "Where it goes: s3://bucket/key",
    "File size",
    "Bytes confirmed by the server",
    "Current upload speed",
    "Estimated time left at the current speed",
    "What the transfer is doing",
    "Parts uploaded / parts in total",
)
RIGHT_COLUMNS = frozenset({SIZE, SPEED, ETA, PARTS})

SORT_ROLE = Qt.ItemDataRole.UserRole + 10
TRANSFER_ROLE = Qt.ItemDataRole.UserRole + 11
ID_ROLE = Qt.ItemDataRole.UserRole + 12
FILTER_ROLE = Qt.ItemDataRole.UserRole + 13

STATE_LABELS: dict[str, str] = {
    QUEUED: "Queued", UPLOADING: "Uploading", PAUSED: "Paused",
    ASSEMBLING: "Completing", VERIFYING: "Verifying", DONE: "Done",
    FAILED: "Failed", CANCELLED: "Cancelled", WAITING: "Waiting",
}
_STATE_ORDER: dict[str, int] = {s: i for i, s in enumerate(
    (UPLOADING, ASSEMBLING, VERIFYING, WAITING, QUEUED, PAUSED, FAILED, CANCELLED, DONE))}


class CellSource(Protocol):
    """What the role table asks of the model besides the transfer."""

    waiting_label: str  # a waiting row's state, with the countdown

    def alignment(self, col: int) -> int: ...


def state_label(t: TransferSnapshot) -> str:
    if t.detail.startswith("cancelling"):
        return "Cancelling…"
    return STATE_LABELS.get(t.state, t.state.capitalize())


def shows_speed(t: TransferSnapshot) -> bool:
    return t.state == UPLOADING and t.speed > 0


def display(t: TransferSnapshot, col: int) -> str:
    if col == NAME:
        return t.name
    if col == DESTINATION:
        return t.uri
    if col == SIZE:
        return format_bytes(t.size)
    if col == PROGRESS:
        return f"{t.fraction * 100:.0f}%"
    if col == SPEED:
        return format_rate(t.speed) if shows_speed(t) else ""
    if col == ETA:
        return format_duration(t.eta) if shows_speed(t) and t.eta is not None else ""
    if col == STATE:
        return state_label(t)
    return f"{t.parts_done} / {t.parts_total}"


def sort_key(t: TransferSnapshot, col: int) -> Any:
    if col == NAME:
        return t.name.lower()
    if col == DESTINATION:
        return t.uri
    if col == SIZE:
        return t.size
    if col == PROGRESS:
        return t.fraction
    if col == SPEED:
        return t.speed if shows_speed(t) else 0.0
    if col == ETA:
        return t.eta if shows_speed(t) and t.eta is not None else float("inf")
    if col == STATE:
        return _STATE_ORDER.get(t.state, 99)
    return t.parts_done / t.parts_total if t.parts_total else 0.0


def tooltip(t: TransferSnapshot, col: int) -> str:
    if col == NAME:
        return t.source
    if col == DESTINATION:
        return t.uri
    if col == STATE:
        lines = [state_label(t)]
        if t.detail and not t.detail.startswith("cancelling"):
            lines.append(t.detail)
        if t.verification:
            lines.append(f"Verified: {t.verification}")
        if t.retries:
            lines.append(f"{plural(t.retries, 'part attempt')} repeated")
        return "\n".join(lines)
    if col == SIZE:
        return f"{t.size:,} bytes"
    if col == PROGRESS:
        acked = t.done_bytes if t.acked_bytes < 0 else t.acked_bytes
        text = f"{acked:,} of {t.size:,} bytes stored"
        if t.done_bytes > acked:
            text += f"; {t.done_bytes - acked:,} more sent, awaiting the server"
        return text
    if col == PARTS:
        return f"{t.parts_done} of {t.parts_total} parts of {t.part_sizes}"
    return ""


def _decoration(_m: CellSource, t: TransferSnapshot, col: int) -> Any:
    if col != STATE:
        return None
    return icons.icon(t.state if t.state in STATE_LABELS else QUEUED, state_hex(t.state))


def _foreground(_m: CellSource, t: TransferSnapshot, col: int) -> Any:
    return state_color(FAILED) if col == STATE and t.state == FAILED else None


ROLES: dict[int, Callable[[CellSource, TransferSnapshot, int], Any]] = {
    int(Qt.ItemDataRole.DisplayRole): lambda m, t, col: m.waiting_label
    if col == STATE and t.state == WAITING else display(t, col),
    int(SORT_ROLE): lambda _m, t, col: sort_key(t, col),
    int(BAR_ROLE): lambda _m, t, col: (t.fraction, t.state) if col == PROGRESS else None,
    int(FRACTION_ROLE): lambda _m, t, col: t.fraction if col == PROGRESS else None,
    int(STATE_ROLE): lambda _m, t, _col: t.state,
    int(ID_ROLE): lambda _m, t, _col: t.id,
    int(FILTER_ROLE): lambda _m, t, _col: f"{t.name}\n{t.uri}",
    int(TRANSFER_ROLE): lambda _m, t, _col: t,
    int(Qt.ItemDataRole.TextAlignmentRole): lambda m, _t, col: m.alignment(col),
    int(Qt.ItemDataRole.ToolTipRole): lambda _m, t, col: tooltip(t, col),
    int(Qt.ItemDataRole.DecorationRole): _decoration,
    int(Qt.ItemDataRole.ForegroundRole): _foreground,
}
