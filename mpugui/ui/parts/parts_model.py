"""The parts of the selected transfer as a table: number, byte range, size,
state, bytes sent, speed, attempts, ETag and checksum."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt

from mpugui.core.states import DONE, FAILED, QUEUED, UPLOADING, PartState
from mpugui.core.transfer.snapshot import PartSnapshot, TransferSnapshot
from mpugui.core.units import format_bytes, format_rate
from mpugui.ui.common import icons
from mpugui.ui.common.table_model import TableModel
from mpugui.ui.queue.progress_delegate import FRACTION_ROLE, STATE_ROLE, state_hex

NUMBER, RANGE, SIZE, STATE, SENT, SPEED, ATTEMPTS, ETAG = range(8)
COLUMNS = ("Part", "Byte range", "Size", "State", "Sent", "Speed", "Attempts", "ETag / checksum")
_TIPS = ("Part number (1 to 10,000)", "First and last byte of the file in this part",
         "Part size", "pending, uploading, done or failed", "Bytes handed to the network",
         "Speed of this part", "Requests made for this part, retries included",
         "What the server returned for the part, and the checksum sent with it")
PART_STATE_LABELS: dict[str, str] = {PartState.PENDING: "Pending", PartState.UPLOADING: "Uploading",
                                     PartState.DONE: "Done", PartState.FAILED: "Failed"}
# A part's icon and colour: its transfer's for the same word, queued's while pending.
_PART_LOOK: dict[str, str] = {PartState.PENDING: QUEUED, PartState.UPLOADING: UPLOADING,
                              PartState.DONE: DONE, PartState.FAILED: FAILED}
SORT_ROLE = Qt.ItemDataRole.UserRole + 10


def part_tooltip(p: PartSnapshot, checksum_name: str = "") -> str:
    last = p.offset + p.size - 1 if p.size else p.offset
    lines = [f"Part {p.number} — {PART_STATE_LABELS.get(p.state, p.state)}",
             f"Bytes {p.offset:,}–{last:,} ({format_bytes(p.size)})"]
    if p.state == PartState.UPLOADING:
        pct = p.sent / p.size * 100 if p.size else 0
        lines.append(f"Sent {format_bytes(p.sent)} ({pct:.0f}%) at {format_rate(p.speed)}")
    if p.attempts > 1:
        lines.append(f"{p.attempts} attempts")
    if p.etag:
        lines.append(f"ETag {p.etag}")
    if p.checksum:
        lines.append(f"{checksum_name.upper() or 'Checksum'} {p.checksum}")
    if p.error:
        lines.append(p.error)
    return "\n".join(lines)


class PartsModel(TableModel):
    columns = COLUMNS
    header_tips = _TIPS
    right_columns = frozenset({NUMBER, SIZE, SENT, SPEED, ATTEMPTS})
    align_headers = False

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._parts: tuple[PartSnapshot, ...] = ()
        self._transfer_id: int | None = None
        self._checksum = ""

    @property
    def transfer_id(self) -> int | None:
        return self._transfer_id

    def set_transfer(self, t: TransferSnapshot | None) -> None:
        """Show `t`'s parts. For the same transfer, unchanged part snapshots
        are the same objects, so only the span that changed is announced."""
        parts = t.parts if t is not None else ()
        tid = t.id if t is not None else None
        if tid != self._transfer_id or len(parts) != len(self._parts):
            self.beginResetModel()
            self._parts, self._transfer_id = parts, tid
            self._checksum = t.checksum if t is not None else ""
            self.endResetModel()
            return
        if parts is self._parts:
            return
        old, self._parts = self._parts, parts
        self._announce_rows([i for i, (a, b) in enumerate(zip(old, parts, strict=True))
                             if a is not b and a != b])

    def part(self, row: int) -> PartSnapshot | None:
        return self._parts[row] if 0 <= row < len(self._parts) else None

    def _items(self) -> tuple[PartSnapshot, ...]:
        return self._parts

    def cell(self, p: PartSnapshot, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(p, col)
        if role == SORT_ROLE:
            return (p.number, p.offset, p.size, p.state, p.sent, p.speed, p.attempts,
                    p.etag or "")[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            return part_tooltip(p, self._checksum)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self.alignment(col)
        if role == Qt.ItemDataRole.DecorationRole and col == STATE:
            name = _PART_LOOK.get(p.state, QUEUED)
            return icons.icon(name, state_hex(name))
        if role == FRACTION_ROLE and col == SENT:
            return p.sent / p.size if p.size else (1.0 if p.state == PartState.DONE else 0.0)
        if role == STATE_ROLE:
            return p.state
        return None

    def _display(self, p: PartSnapshot, col: int) -> str:
        if col == NUMBER:
            return str(p.number)
        if col == RANGE:
            last = p.offset + p.size - 1 if p.size else p.offset
            return f"{p.offset:,}–{last:,}"
        if col == SIZE:
            return format_bytes(p.size)
        if col == STATE:
            return PART_STATE_LABELS.get(p.state, p.state)
        if col == SENT:
            return format_bytes(p.sent)
        if col == SPEED:
            return format_rate(p.speed) if p.state == PartState.UPLOADING and p.speed else ""
        if col == ATTEMPTS:
            return str(p.attempts)
        if p.etag and p.checksum:
            return f"{p.etag.strip(chr(34))} · {p.checksum}"
        return (p.etag or "").strip('"') or (p.checksum or "")
