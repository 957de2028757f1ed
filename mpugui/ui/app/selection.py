"""What the queue's selection can be asked to do — Pause, Resume, Cancel
(asked first), Retry, Remove, Copy S3 URI, and Pause/Resume all — and when
each is enabled. The selection is read from its ranges, never row by row:
Ctrl+A over 100,000 rows is one range, not 100,000 indexes. A failure of a
transfer the user asked to cancel, retry or resume is said in the status bar.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QMainWindow, QMessageBox

from mpugui.core.states import (
    CANCELLED,
    DONE,
    FAILED,
    FINAL_STATES,
    MOVING_STATES,
    PAUSED,
    QUEUED,
    UPLOADING,
    WAITING,
)
from mpugui.core.transfer.snapshot import REMOVED, EngineSnapshot, StateEvent, TransferSnapshot
from mpugui.core.units import plural
from mpugui.engine.engine import TransferEngine
from mpugui.ui.app.actions import Actions
from mpugui.ui.queue.queue_model import QueueModel, QueueProxy
from mpugui.ui.queue.queue_view import QueueView

# Outcomes that end the watch on a transfer the user acted on.
_OUTCOMES = (CANCELLED, FAILED, DONE, PAUSED, REMOVED)


class SelectionActions(QObject):
    """The selection's actions, wired to the engine; the window feeds it
    each tick (on_tick) and each selection change (update_actions)."""

    def __init__(self, window: QMainWindow, engine: TransferEngine, model: QueueModel,
                 proxy: QueueProxy, queue: QueueView, acts: Actions) -> None:
        super().__init__(window)
        self.window, self.engine, self.acts = window, engine, acts
        self.model, self.proxy, self.queue = model, proxy, queue
        self._closed = False
        self._any_paused = self._any_running = False
        # asked here to cancel, retry or resume: a failure of it is said here too
        self._cancelling: set[int] = set()
        self.confirm_box: QMessageBox | None = None
        self._cancel_yes: QAbstractButton | None = None
        self._cancel_ids: list[int] = []
        # state changes come in bursts (a 10,000-file drop): re-check the
        # actions once per burst, not once per transfer
        self._timer = QTimer(self)
        self._timer.setObjectName("mpugui-actions")
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.update_actions)

        e = engine
        # in slices: a selection of 100,000 rows never holds the window up
        acts["pause"].triggered.connect(lambda: e.in_slices("pause", self.selected_ids()))
        acts["resume"].triggered.connect(self.resume_selected)
        acts["cancel"].triggered.connect(self.confirm_cancel)
        acts["retry"].triggered.connect(self.retry_selected)
        acts["remove"].triggered.connect(self.remove_selected)
        acts["remove_finished"].triggered.connect(self.remove_finished)
        acts["pause_all"].triggered.connect(lambda: e.in_slices("pause", e.transfer_ids()))
        acts["resume_all"].triggered.connect(lambda: e.in_slices("resume", e.transfer_ids()))
        acts["copy_uri"].triggered.connect(self.copy_uris)

    # -- the window's feed ------------------------------------------------------

    def on_tick(self, snap: EngineSnapshot) -> None:
        """One engine tick: the counts enable Pause/Resume all; the events end
        the watch on transfers the user acted on (a failure is said)."""
        running = snap.count(QUEUED, UPLOADING, WAITING) > 0
        paused = snap.count(PAUSED, FAILED) > 0
        if (running, paused) != (self._any_running, self._any_paused):
            self._any_running, self._any_paused = running, paused
            self.update_actions()
        if snap.events:
            self._outcomes(snap.events)
            self.schedule()

    def schedule(self) -> None:
        """Re-check the actions once the current burst of changes is over."""
        if not self._closed:
            self._timer.start()

    def update_actions(self) -> None:
        if self._closed:
            return
        self.acts.update_for(self.selected_states(), self._any_paused, self._any_running)
        self.acts["remove_finished"].setEnabled(self.model.rowCount() > 0)

    def stop(self) -> None:
        self._closed = True
        self._timer.stop()

    def _outcomes(self, events: Sequence[StateEvent]) -> None:
        for ev in events:
            if ev.id in self._cancelling and ev.state in _OUTCOMES:
                self._cancelling.discard(ev.id)
                if ev.state == FAILED:
                    self._say_failed(ev.id, ev.detail)

    def _say_failed(self, transfer_id: int, sentence: str) -> None:
        """A user action that failed, said where the user is: the status bar
        (the row's state and tooltip and the log dock say it as well)."""
        t = self.model.transfer(transfer_id)
        name = t.name if t is not None else f"Transfer {transfer_id}"
        self._say(f"{name}: {sentence}", 20000)

    def _say(self, text: str, timeout_ms: int) -> None:
        self.window.statusBar().showMessage(text, timeout_ms)

    def _watch(self, ids: list[int]) -> None:
        """Say in the status bar if these transfers fail after the user's
        action (a small set: what was selected; forgotten at their outcome)."""
        if len(ids) <= 1000:
            self._cancelling.update(ids)

    # -- reading the selection --------------------------------------------------

    def _selected_runs(self) -> list[tuple[int, int]]:
        """The selected rows of the model as ascending (first, last) runs,
        read from the selection's ranges."""
        selection = self.proxy.mapSelectionToSource(self.queue.selectionModel().selection())
        last_col = self.model.columnCount() - 1
        spans = sorted((r.top(), r.bottom())
                       for r in selection  # type: ignore[attr-defined]  # a list; stubs lack __iter__
                       if r.left() == 0 and r.right() == last_col)  # whole rows only
        runs: list[tuple[int, int]] = []
        for top, bottom in spans:
            if runs and top <= runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], max(runs[-1][1], bottom))
            else:
                runs.append((top, bottom))
        return runs

    def selected_transfers(self) -> list[TransferSnapshot]:
        return [t for first, last in self._selected_runs()
                for t in self.model.rows(first, last)]

    def selected_ids(self) -> list[int]:
        return [t.id for t in self.selected_transfers()]

    def selected_states(self) -> set[str]:
        runs = self._selected_runs()
        if sum(last - first + 1 for first, last in runs) == self.model.rowCount():
            return self.model.shown_states()  # all of them: kept by the model
        return {t.state for first, last in runs for t in self.model.rows(first, last)}

    # -- the actions ------------------------------------------------------------

    def confirm_cancel(self) -> None:
        chosen = [t for t in self.selected_transfers() if t.state not in FINAL_STATES]
        ids = [t.id for t in chosen]
        if not ids:
            return
        what = "this upload" if len(ids) == 1 else f"these {len(ids)} uploads"
        box = QMessageBox(QMessageBox.Icon.Warning, "Cancel uploads",
                          f"Cancel {what}?", QMessageBox.StandardButton.NoButton, self.window)
        box.setInformativeText("The parts already uploaded are deleted from the bucket, so "
                               "the upload cannot be resumed later. Pause keeps them.")
        self._cancel_yes = box.addButton("Cancel and delete parts",
                                         QMessageBox.ButtonRole.DestructiveRole)
        # "Keep uploading" only where something uploads: a failed one is kept, not sent.
        running = any(t.state in MOVING_STATES for t in chosen)
        keep_text = "Keep uploading" if running else (
            "Keep the upload" if len(ids) == 1 else "Keep the uploads")
        keep = box.addButton(keep_text, QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._cancel_ids = ids
        box.finished.connect(self._cancel_answered)
        self.confirm_box = box
        box.open()

    def _cancel_answered(self, _result: int) -> None:
        box, self.confirm_box = self.confirm_box, None
        if box is not None and box.clickedButton() is self._cancel_yes:
            self._cancelling.update(self._cancel_ids)
            self.engine.cancel(self._cancel_ids)
        self._cancel_ids = []

    def resume_selected(self) -> None:
        ids = self.selected_ids()
        self._watch(ids)
        self.engine.in_slices("resume", ids)

    def retry_selected(self) -> None:
        """engine.retry: failed ones resume, waiting ones probe their endpoint
        now ("Retry now"), cancelled ones start over as new transfers."""
        selected = self.selected_transfers()
        again = [t.id for t in selected if t.state in (FAILED, WAITING)]
        self._watch(again)
        refused: list[str] = []
        self._watch(self.engine.retry(
            again + [t.id for t in selected if t.state == CANCELLED], refused))
        if refused:  # each sentence names its file
            more = f" ({len(refused) - 1:,} more in the log)" if len(refused) > 1 else ""
            self._say(refused[0] + more, 20000)

    def remove_selected(self) -> None:
        selected = self.selected_transfers()
        removed = self.engine.remove([t.id for t in selected])
        kept = len(selected) - len(removed)
        if kept:  # running ones are not removed: say so and what to do instead
            self._say(
                f"{plural(kept, 'transfer')} still running {'was' if kept == 1 else 'were'} "
                "not removed: pause or cancel {0} first.".format(
                    "it" if kept == 1 else "them"), 20000)
        elif removed and {PAUSED, FAILED} & {t.state for t in selected}:
            self._say("Unfinished uploads removed from the list stay in the bucket; the "
                      "In-progress uploads tab finds them.", 10000)

    def remove_finished(self) -> None:
        """Every done and cancelled transfer, in one engine call."""
        self.engine.remove_finished()

    def copy_uris(self) -> None:
        uris = [t.uri for t in self.selected_transfers()]
        if uris:
            QGuiApplication.clipboard().setText("\n".join(uris))
            self._say(f"Copied {uris[0]}" if len(uris) == 1 else f"Copied {len(uris)} S3 URIs",
                      4000)
