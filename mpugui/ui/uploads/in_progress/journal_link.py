"""The In-progress tab's tie to the app's own transfers: which listed upload
a journaled transfer owns (the "In journal" column, kept in step with the
engine's state changes), and cancelling that transfer when its upload is
aborted here, since it can no longer resume."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject

from mpugui.core.inventory.listing import Upload, journal_index
from mpugui.core.journal.store import Journal, TransferRecord
from mpugui.core.states import FINAL_STATES
from mpugui.core.transfer.snapshot import REMOVED, EngineSnapshot
from mpugui.engine.engine import TransferEngine
from mpugui.ui.uploads.models import UploadRow, UploadsModel

log = logging.getLogger("mpugui.ui.uploads")


class JournalLink(QObject):
    def __init__(self, journal: Journal, engine: TransferEngine, model: UploadsModel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.journal, self.engine, self.model = journal, engine, model
        self._known: dict[str, TransferRecord] = {}  # upload id -> its journaled transfer
        self._journal_uploads: dict[int, str] = {}  # transfer id -> upload id, for the column
        engine.snapshot.connect(self._engine_events)

    def reload(self) -> None:
        """Read the journal again (a new listing starts)."""
        try:
            self._known = journal_index(self.journal)
        except Exception as exc:
            self._known = {}
            log.warning("The journal could not be read: %s", exc)

    def row(self, upload: Upload) -> UploadRow:
        """A listed upload's row, with its transfer when the journal has one."""
        rec = self._known.get(upload.upload_id)
        return UploadRow(upload, journal_id=rec.id if rec else None,
                         journal_state=rec.state if rec else None)

    def cancel_transfer_of(self, upload_id: str) -> None:
        """The app's own transfer of an aborted upload cannot resume any more:
        let the engine mark it cancelled (its abort finds nothing left)."""
        ids = {tid for tid, uid in self._journal_uploads.items() if uid == upload_id}
        rec = self._known.get(upload_id)
        if rec is not None:
            ids.add(rec.id)
        snapshot = self.engine.current_snapshot()
        for tid in ids:
            t = snapshot.by_id(tid)
            if t is not None and t.state not in FINAL_STATES:
                self.engine.cancel([tid])

    def _engine_events(self, snap: EngineSnapshot) -> None:
        for ev in snap.events:  # a tick's state changes, not a signal each
            self._engine_state(ev.id, ev.state)

    def _engine_state(self, transfer_id: int, state: str) -> None:
        """Keep the "In journal" column in step with the engine."""
        if state == REMOVED:
            upload_id = self._journal_uploads.pop(transfer_id, None)
            if upload_id:
                self.model.set_journal(upload_id, None, None)
            return
        try:
            upload_id = self.engine.record(transfer_id).upload_id
        except KeyError:
            return
        if upload_id:
            self._journal_uploads[transfer_id] = upload_id
            self.model.set_journal(upload_id, transfer_id, state)
