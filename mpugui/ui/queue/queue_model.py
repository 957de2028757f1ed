"""The queue: a table model over the engine's snapshot deltas.

A tick costs what changed, not what exists: `update` applies the tick's
`removed` ids, then its `changed` snapshots (replaced in place, one
dataChanged per block of nearby rows; unseen ids are new rows, added with
one beginInsertRows), and rebuilds from the engine's `table` only when it
missed a tick (its seq is not the previous one plus one).

The model keeps the rows it shows in display order with a parallel list of
strictly monotonic keys: the arrival ordinal when unsorted (the engine's
queue order), (column key, id) when sorted. A row is found by bisecting the
keys with its snapshot's key, so there is no id -> row map to rebuild when
rows come and go.

Sorting and the text filter both live here, in Python, rather than in
QSortFilterProxyModel: the proxy calls data() twice per comparison from C++
to sort, and re-filters every row through data() on each layout change
(about a second per tick for 100,000 rows with a filter set). QueueProxy is
an identity proxy kept for the view; its rows are the model's rows.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QIdentityProxyModel,
    QModelIndex,
    QObject,
    Qt,
)

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
from mpugui.core.transfer.snapshot import EngineSnapshot, TransferSnapshot
from mpugui.core.units import format_bytes, format_duration, format_rate, plural
from mpugui.ui.common import icons
from mpugui.ui.common.palette import state_color, state_hex
from mpugui.ui.common.table_model import TableModel
from mpugui.ui.queue.progress_delegate import BAR_ROLE, FRACTION_ROLE, STATE_ROLE

NAME, DESTINATION, SIZE, PROGRESS, SPEED, ETA, STATE, PARTS = range(8)
COLUMNS = ("Name", "Destination", "Size", "Progress", "Speed", "ETA", "State", "Parts")
_HEADER_TIPS = (
    "The local file",
    "Where it goes: s3://bucket/key",
    "File size",
    "Bytes confirmed by the server",
    "Current upload speed",
    "Estimated time left at the current speed",
    "What the transfer is doing",
    "Parts uploaded / parts in total",
)

SORT_ROLE = Qt.ItemDataRole.UserRole + 10
TRANSFER_ROLE = Qt.ItemDataRole.UserRole + 11
ID_ROLE = Qt.ItemDataRole.UserRole + 12

STATE_LABELS: dict[str, str] = {
    QUEUED: "Queued", UPLOADING: "Uploading", PAUSED: "Paused",
    ASSEMBLING: "Completing", VERIFYING: "Verifying", DONE: "Done",
    FAILED: "Failed", CANCELLED: "Cancelled", WAITING: "Waiting",
}
_STATE_ORDER: dict[str, int] = {s: i for i, s in enumerate(
    (UPLOADING, ASSEMBLING, VERIFYING, WAITING, QUEUED, PAUSED, FAILED, CANCELLED, DONE))}
_MERGE_GAP = 4  # changed rows this close share one dataChanged
FILTER_ROLE = Qt.ItemDataRole.UserRole + 13


def state_label(t: TransferSnapshot) -> str:
    if t.detail.startswith("cancelling"):
        return "Cancelling…"
    return STATE_LABELS.get(t.state, t.state.capitalize())


def shows_speed(t: TransferSnapshot) -> bool:
    return t.state == UPLOADING and t.speed > 0


# More separate runs of removed rows than this in one tick (removing the
# finished ones among 100,000) and they go in one layout change: each
# beginRemoveRows costs the view and its selection a pass over every row.
_REMOVE_RUNS = 8


class QueueModel(TableModel):
    columns = COLUMNS
    header_tips = _HEADER_TIPS
    right_columns = frozenset({SIZE, SPEED, ETA, PARTS})

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[TransferSnapshot] = []  # the rows shown, in display order
        self._keys: list[Any] = []  # their keys: strictly rising, or falling when descending
        self._by_id: dict[int, TransferSnapshot] = {}  # every transfer, shown or filtered out
        self._ord: dict[int, int] = {}  # arrival ordinal; iterates in queue order
        self._next_ord = 0
        self._seq: int | None = None  # the last tick applied; None: rebuild from the table
        self._states: collections.Counter[str] = collections.Counter()  # shown rows per state
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._desc = False
        self._needle = ""
        self._waiting_label = "Waiting for the network"  # with the countdown, per tick

    # -- feeding ----------------------------------------------------------------

    def update(self, snapshot: EngineSnapshot) -> None:
        """Apply one engine tick: its removals, then its changed rows, then
        its new ones. A tick already applied does nothing; after a missed
        one the rows are rebuilt from the snapshot's table."""
        seq = snapshot.seq
        if self._seq is not None and seq <= self._seq:
            return  # in sync (current_snapshot()) or a late tick: the rows have it
        if self._seq is None or seq != self._seq + 1:
            self._seq = seq
            self.resync(snapshot.table)
            return
        self._seq = seq
        if snapshot.removed:
            self._remove(snapshot.removed)
        if snapshot.changed:
            self._change(snapshot.changed)
        self._countdown(snapshot)

    def _countdown(self, snapshot: EngineSnapshot) -> None:
        """Waiting rows say when the next try is: one label from the engine's
        outages (a few, not one per row), then one dataChanged over the
        state column; the view repaints only the rows it shows."""
        outages = snapshot.outages
        label = ("Waiting — " + outages[0].sentence().split(". ")[0].removeprefix(
            "Waiting for the network — ")) if len(outages) == 1 else "Waiting for the network"
        if label == self._waiting_label:
            return
        self._waiting_label = label
        if self._states[WAITING] > 0 and self._rows:
            self.dataChanged.emit(self.index(0, STATE), self.index(len(self._rows) - 1, STATE),
                                  [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole])

    def resync(self, table: Mapping[int, TransferSnapshot]) -> None:
        """Rebuild every row from the engine's table (queue order), keeping
        the selection and current row of transfers still there."""
        items = _values(table)
        self._by_id = {t.id: t for t in items}
        self._ord = {t.id: i for i, t in enumerate(items)}
        self._next_ord = len(items)
        self._rebuild()

    def _remove(self, ids: Iterable[int]) -> None:
        by_id, ords = self._by_id, self._ord
        rows = []
        for tid in ids:
            t = by_id.get(tid)
            if t is None:
                continue  # already gone: deltas are idempotent
            r = self._row_for(t)
            if r is not None:
                rows.append(r)
            del by_id[tid], ords[tid]
        if not rows:
            return
        rows.sort()
        states = self._states
        for r in rows:
            states[self._rows[r].state] -= 1
        runs = _runs(rows)
        if len(runs) <= _REMOVE_RUNS:
            for first, last in reversed(runs):  # bottom up, so the rows above stay put
                self.beginRemoveRows(QModelIndex(), first, last)
                del self._rows[first:last + 1], self._keys[first:last + 1]
                self.endRemoveRows()
            return

        def cut() -> None:
            self._rows, self._keys = _cut(self._rows, runs), _cut(self._keys, runs)
        self._relayout(cut)

    def _change(self, changed: Iterable[TransferSnapshot]) -> None:
        by_id, ords, states = self._by_id, self._ord, self._states
        rows, keys, key = self._rows, self._keys, self._key
        sorting = self._sort_column >= 0
        in_place: list[int] = []
        moved: list[tuple[int, TransferSnapshot, Any]] = []  # shown rows, sorted view
        added: list[TransferSnapshot] = []
        for t in changed:
            old = by_id.get(t.id)
            if old is t:
                continue  # already applied
            by_id[t.id] = t
            if old is None:
                ords[t.id] = self._next_ord
                self._next_ord += 1
                if self._matches(t):
                    added.append(t)
                continue
            r = self._row_for(old)
            if r is None:
                continue  # filtered out
            if old.state != t.state:
                states[old.state] -= 1
                states[t.state] += 1
            if sorting:
                moved.append((r, t, key(t)))
            else:
                rows[r] = t
                in_place.append(r)
        for t in added:
            states[t.state] += 1
        if not sorting:
            if in_place:
                # a tick's active transfers are usually one block: one dataChanged
                in_place.sort()
                self._announce_rows(in_place, _MERGE_GAP)
            if added:
                self._append(added, [ords[t.id] for t in added])
            return
        # Sorted: every changed row takes its new key where it is, then the
        # ones out of order with their neighbours are put in their place.
        for r, t, k in moved:
            rows[r], keys[r] = t, k
        out = self._out_of_order(sorted(r for r, _, _ in moved))
        movers = [(r, t, k) for r, t, k in moved if r in out]
        in_place = sorted(r for r, _, _ in moved if r not in out)
        new = sorted(((key(t), t) for t in added), key=_first, reverse=self._desc)
        if not movers and (not new or not keys or self._before(keys[-1], new[0][0])):
            self._announce_rows(in_place, _MERGE_GAP)
            if new:
                self._append([t for _, t in new], [k for k, _ in new])
            return
        stay = [rows[r] for r in in_place]
        self._place(movers, new)
        self._announce_rows(sorted(r for r in map(self._row_for, stay) if r is not None),
                            _MERGE_GAP)

    def _out_of_order(self, rows: list[int]) -> set[int]:
        """Which of the ascending `rows` (keys just changed) must move so that
        the rest are in order: those out of order with their nearest
        neighbours that stay, found again until none is."""
        keys, before, n = self._keys, self._before, len(self._keys)
        out: set[int] = set()
        pending = rows
        while pending:
            bad = []
            for r in pending:
                left, right = r - 1, r + 1
                while left in out:
                    left -= 1
                while right in out:
                    right += 1
                if (left >= 0 and not before(keys[left], keys[r])) or \
                        (right < n and not before(keys[r], keys[right])):
                    bad.append(r)
            if not bad:
                break
            out.update(bad)
            pending = [r for r in pending if r not in out]
        return out

    def _append(self, rows: list[TransferSnapshot], keys: list[Any]) -> None:
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows += rows
        self._keys += keys
        self.endInsertRows()

    def _place(self, movers: list[tuple[int, TransferSnapshot, Any]],
               new: list[tuple[Any, TransferSnapshot]]) -> None:
        """Put rows whose sort key moved, and new rows, where they belong:
        one layout change, the rest of the rows copied by slices."""
        items = sorted([(k, t) for _, t, k in movers] + new, key=_first, reverse=self._desc)

        def place() -> None:
            runs = _runs(sorted(r for r, _, _ in movers))
            rows, keys = _cut(self._rows, runs), _cut(self._keys, runs)
            out_rows: list[TransferSnapshot] = []
            out_keys: list[Any] = []
            start = 0
            for k, t in items:
                at = self._find(keys, k)
                out_rows += rows[start:at]
                out_keys += keys[start:at]
                out_rows.append(t)
                out_keys.append(k)
                start = at
            out_rows += rows[start:]
            out_keys += keys[start:]
            self._rows, self._keys = out_rows, out_keys
        self._relayout(place)
        if movers:
            moved = [self._row_for(t) for _, t, _ in movers]
            self._announce_rows(sorted(r for r in moved if r is not None), _MERGE_GAP)

    def _rebuild(self, candidates: list[TransferSnapshot] | None = None) -> None:
        """Show `candidates` (default: every transfer, queue order) that pass
        the filter, in the sort order."""
        by_id = self._by_id
        shown = [by_id[i] for i in self._ord] if candidates is None else candidates
        if self._needle:
            shown = [t for t in shown if self._matches(t)]
        if self._sort_column >= 0:
            key = self._key
            pairs = sorted(((key(t), t) for t in shown), key=_first, reverse=self._desc)
            rows, keys = [t for _, t in pairs], [k for k, _ in pairs]
        else:
            ords = self._ord
            rows, keys = shown, [ords[t.id] for t in shown]
        self._publish(rows, keys)

    def _publish(self, rows: list[TransferSnapshot], keys: list[Any]) -> None:
        if not self._rows or not rows:
            self.beginResetModel()
            self._rows, self._keys = rows, keys
            self.endResetModel()
        else:
            def swap() -> None:
                self._rows, self._keys = rows, keys
            self._relayout(swap)
        self._states = collections.Counter(t.state for t in rows)

    def _relayout(self, change: Callable[[], None]) -> None:
        """One layout change around `change()`, which may reorder, drop and
        add rows: persistent indexes (selection, current row) follow their
        transfer by id, or become invalid when it is no longer shown."""
        # The vertical-sort hint lets the selection model keep one persistent
        # index per selected row rather than one per selected cell.
        _layout_signal(self.layoutAboutToBeChanged).emit([], _SORT_HINT)
        persistent = self.persistentIndexList()
        old_rows = self._rows
        ids = [old_rows[i.row()].id for i in persistent]
        change()
        cell = self.createIndex
        if len(persistent) > 1000:  # Ctrl+A: one map beats a bisect per index
            row_of = {t.id: r for r, t in enumerate(self._rows)}
            rows = [row_of.get(tid) for tid in ids]
        else:
            by_id, row_for = self._by_id, self._row_for
            rows = [row_for(by_id[tid]) if tid in by_id else None for tid in ids]
        moved = [cell(r, i.column()) if r is not None else QModelIndex()
                 for i, r in zip(persistent, rows, strict=True)]
        self.changePersistentIndexList(persistent, moved)
        _layout_signal(self.layoutChanged).emit([], _SORT_HINT)

    # -- keys ---------------------------------------------------------------------

    def _key(self, t: TransferSnapshot) -> Any:
        if self._sort_column < 0:
            return self._ord[t.id]
        return (self._sort_key(t, self._sort_column), t.id)

    def _before(self, a: Any, b: Any) -> bool:
        return a > b if self._desc else a < b

    def _find(self, keys: list[Any], k: Any) -> int:
        """Where `k` is or would go in `keys` (bisect, either direction)."""
        if not self._desc:
            return bisect.bisect_left(keys, k)
        lo, hi = 0, len(keys)
        while lo < hi:
            mid = (lo + hi) // 2
            if keys[mid] > k:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _row_for(self, t: TransferSnapshot) -> int | None:
        """The row of `t`, the snapshot the model holds for its id."""
        k = self._key(t)
        keys = self._keys
        r = self._find(keys, k)
        return r if r < len(keys) and keys[r] == k else None

    def _matches(self, t: TransferSnapshot) -> bool:
        needle = self._needle
        return not needle or needle in t.name.lower() or needle in t.uri.lower()

    # -- sorting and filtering ------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        column = column if 0 <= column < len(COLUMNS) else -1
        if column < 0:
            order = Qt.SortOrder.AscendingOrder
        if (column, order) == (self._sort_column, self._sort_order):
            return
        flipped = column == self._sort_column
        self._sort_column, self._sort_order = column, order
        self._desc = column >= 0 and order == Qt.SortOrder.DescendingOrder
        if flipped:  # the same column the other way round: the rows reversed
            self._publish(self._rows[::-1], self._keys[::-1])
        else:
            self._rebuild(None if column < 0 else self._rows)

    def sort_column(self) -> int:
        return self._sort_column

    def set_filter(self, text: str) -> None:
        """Show the transfers whose name or destination contains `text`
        (any case). A longer filter only looks at the rows already shown."""
        needle = text.strip().lower()
        if needle == self._needle:
            return
        narrower = self._needle in needle
        self._needle = needle
        if not narrower:
            self._rebuild()
            return
        pairs = [(k, t) for k, t in zip(self._keys, self._rows, strict=True)
                 if self._matches(t)]
        self._publish([t for _, t in pairs], [k for k, _ in pairs])

    def filter_text(self) -> str:
        return self._needle

    # -- lookups ----------------------------------------------------------------

    def transfer(self, transfer_id: int) -> TransferSnapshot | None:
        """The latest snapshot of a transfer, shown or filtered out."""
        return self._by_id.get(transfer_id)

    def row_of(self, transfer_id: int) -> int | None:
        """The row showing the transfer, None when filtered out or unknown."""
        t = self._by_id.get(transfer_id)
        return None if t is None else self._row_for(t)

    def snapshots(self) -> list[TransferSnapshot]:
        """Every transfer, filtered or not, in queue order."""
        by_id = self._by_id
        return [by_id[i] for i in self._ord]

    def rows(self, first: int = 0, last: int | None = None) -> list[TransferSnapshot]:
        """The shown rows `first` to `last` (inclusive; default: to the end)."""
        return self._rows[first:None if last is None else last + 1]

    def total(self) -> int:
        """Transfers in the queue, shown or filtered out."""
        return len(self._by_id)

    def shown_states(self) -> set[str]:
        """The states of the shown rows (kept as rows change: no pass over them)."""
        return {s for s, n in self._states.items() if n > 0}

    # -- Qt model API -------------------------------------------------------------

    def _items(self) -> list[TransferSnapshot]:
        return self._rows

    def cell(self, t: TransferSnapshot, col: int, role: int) -> Any:
        # One dict look-up per call: a repaint asks ~8 roles of each visible
        # cell, most of which (font, check state, background...) are None.
        answer = _ROLES.get(role)
        return None if answer is None else answer(self, t, col)

    def _alignment_of(self, _t: TransferSnapshot, col: int) -> int:
        return self.alignment(col)

    def _tooltip_of(self, t: TransferSnapshot, col: int) -> str:
        return self._tooltip(t, col)

    @staticmethod
    def _display(t: TransferSnapshot, col: int) -> str:
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

    @staticmethod
    def _sort_key(t: TransferSnapshot, col: int) -> Any:
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

    @staticmethod
    def _tooltip(t: TransferSnapshot, col: int) -> str:
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


class QueueProxy(QIdentityProxyModel):
    """What the view shows: QueueModel's rows as they are. Sorting and the
    text filter over name and destination are passed on to QueueModel, which
    does both in Python: Qt's filter proxy re-filters every row through
    data() on each of the model's layout changes, a second at 100,000 rows."""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)

    def set_filter_text(self, text: str) -> None:
        source = self.sourceModel()
        if isinstance(source, QueueModel):
            source.set_filter(text)


_SORT_HINT = QAbstractItemModel.LayoutChangeHint.VerticalSortHint


def _decoration(_m: QueueModel, t: TransferSnapshot, col: int) -> Any:
    if col != STATE:
        return None
    return icons.icon(t.state if t.state in STATE_LABELS else QUEUED, state_hex(t.state))


def _foreground(_m: QueueModel, t: TransferSnapshot, col: int) -> Any:
    return state_color(FAILED) if col == STATE and t.state == FAILED else None


_ROLES: dict[int, Callable[[QueueModel, TransferSnapshot, int], Any]] = {
    int(Qt.ItemDataRole.DisplayRole): lambda m, t, col: m._waiting_label
    if col == STATE and t.state == WAITING else QueueModel._display(t, col),
    int(SORT_ROLE): lambda _m, t, col: QueueModel._sort_key(t, col),
    int(BAR_ROLE): lambda _m, t, col: (t.fraction, t.state) if col == PROGRESS else None,
    int(FRACTION_ROLE): lambda _m, t, col: t.fraction if col == PROGRESS else None,
    int(STATE_ROLE): lambda _m, t, _col: t.state,
    int(ID_ROLE): lambda _m, t, _col: t.id,
    int(FILTER_ROLE): lambda _m, t, _col: f"{t.name}\n{t.uri}",
    int(TRANSFER_ROLE): lambda _m, t, _col: t,
    int(Qt.ItemDataRole.TextAlignmentRole): QueueModel._alignment_of,
    int(Qt.ItemDataRole.ToolTipRole): QueueModel._tooltip_of,
    int(Qt.ItemDataRole.DecorationRole): _decoration,
    int(Qt.ItemDataRole.ForegroundRole): _foreground,
}


def _layout_signal(signal: Any) -> Any:
    """layoutAboutToBeChanged/layoutChanged with their (parents, hint)
    arguments: PySide's plain emit() only takes none."""
    return signal["QList<QPersistentModelIndex>", QAbstractItemModel.LayoutChangeHint]


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Ascending rows as (first, last) runs of consecutive ones."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and r == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    return runs


def _cut(items: list[Any], runs: list[tuple[int, int]]) -> list[Any]:
    """`items` without the ascending (first, last) runs, copied by slices."""
    out: list[Any] = []
    start = 0
    for first, last in runs:
        out += items[start:first]
        start = last + 1
    out += items[start:]
    return out


def _values(table: Mapping[int, TransferSnapshot]) -> list[TransferSnapshot]:
    """A copy of the engine's table. It is the engine's and may change on its
    thread while this copies (a dict copy is one step under the GIL; the
    retry covers a Mapping that is not a plain dict)."""
    for _ in range(10):
        try:
            return list(table.values())
        except RuntimeError:  # changed size during the copy
            continue
    return list(dict(table).values())
