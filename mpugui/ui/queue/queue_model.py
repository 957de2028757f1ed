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

What each column shows is in queue_columns; the list operations on the rows
and their keys (bisect, cut, merge) in row_order.
"""

from __future__ import annotations

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

from mpugui.core.states import WAITING
from mpugui.core.transfer.snapshot import EngineSnapshot, TransferSnapshot
from mpugui.ui.common.table_model import TableModel
from mpugui.ui.queue import row_order
from mpugui.ui.queue.queue_columns import (
    COLUMNS,
    HEADER_TIPS,
    RIGHT_COLUMNS,
    ROLES,
    STATE,
    sort_key,
)
from mpugui.ui.queue.row_order import find, first

_MERGE_GAP = 4  # changed rows this close share one dataChanged
# More separate runs of removed rows than this in one tick (removing the
# finished ones among 100,000) and they go in one layout change: each
# beginRemoveRows costs the view and its selection a pass over every row.
_REMOVE_RUNS = 8


class QueueModel(TableModel):
    columns = COLUMNS
    header_tips = HEADER_TIPS
    right_columns = RIGHT_COLUMNS

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
        self.waiting_label = "Waiting for the network"  # with the countdown, per tick

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
        if label == self.waiting_label:
            return
        self.waiting_label = label
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
        spans = row_order.runs(rows)
        if len(spans) <= _REMOVE_RUNS:
            for top, bottom in reversed(spans):  # bottom up, so the rows above stay put
                self.beginRemoveRows(QModelIndex(), top, bottom)
                del self._rows[top:bottom + 1], self._keys[top:bottom + 1]
                self.endRemoveRows()
            return

        def cut() -> None:
            self._rows = row_order.cut(self._rows, spans)
            self._keys = row_order.cut(self._keys, spans)
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
        out = row_order.out_of_order(keys, sorted(r for r, _, _ in moved), self._desc)
        movers = [(r, t, k) for r, t, k in moved if r in out]
        in_place = sorted(r for r, _, _ in moved if r not in out)
        new = sorted(((key(t), t) for t in added), key=first, reverse=self._desc)
        at_end = not new or not keys or row_order.before(keys[-1], new[0][0], self._desc)
        if not movers and at_end:
            self._announce_rows(in_place, _MERGE_GAP)
            if new:
                self._append([t for _, t in new], [k for k, _ in new])
            return
        stay = [rows[r] for r in in_place]
        self._place(movers, new)
        self._announce_rows(sorted(r for r in map(self._row_for, stay) if r is not None),
                            _MERGE_GAP)

    def _append(self, rows: list[TransferSnapshot], keys: list[Any]) -> None:
        top = len(self._rows)
        self.beginInsertRows(QModelIndex(), top, top + len(rows) - 1)
        self._rows += rows
        self._keys += keys
        self.endInsertRows()

    def _place(self, movers: list[tuple[int, TransferSnapshot, Any]],
               new: list[tuple[Any, TransferSnapshot]]) -> None:
        """Put rows whose sort key moved, and new rows, where they belong:
        one layout change, the rest of the rows copied by slices."""
        items = sorted([(k, t) for _, t, k in movers] + new, key=first, reverse=self._desc)

        def place() -> None:
            spans = row_order.runs(sorted(r for r, _, _ in movers))
            self._rows, self._keys = row_order.merge(
                row_order.cut(self._rows, spans), row_order.cut(self._keys, spans), items,
                self._desc)
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
            pairs = sorted(((key(t), t) for t in shown), key=first, reverse=self._desc)
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
        return (sort_key(t, self._sort_column), t.id)

    def _row_for(self, t: TransferSnapshot) -> int | None:
        """The row of `t`, the snapshot the model holds for its id."""
        k = self._key(t)
        keys = self._keys
        r = find(keys, k, self._desc)
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
        answer = ROLES.get(role)
        return None if answer is None else answer(self, t, col)


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


def _layout_signal(signal: Any) -> Any:
    """layoutAboutToBeChanged/layoutChanged with their (parents, hint)
    arguments: PySide's plain emit() only takes none."""
    return signal["QList<QPersistentModelIndex>", QAbstractItemModel.LayoutChangeHint]


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
