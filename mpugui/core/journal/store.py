"""The resume journal: one SQLite database (WAL) with every transfer and each
finished part.

Writes are grouped: state changes and finished parts wait in memory (one
pending row per transfer, the latest values winning) and a writer thread
commits them together every COMMIT_INTERVAL, one fsync'd transaction for
everything that changed meanwhile. A folder is added in one transaction per
batch and a restore is a few statements, whatever the number of transfers.

What a SIGKILL can lose: writes younger than COMMIT_INTERVAL. That is safe
because of what waits for a commit and what does not. The upload id, and the
state journaled before CreateMultipartUpload, are written with wait=True:
the caller returns only once they are on disk, so no part leaves before the
journal knows its upload. A finished part or file that is lost goes back to
"not done": on resume, ListParts finds the part on the server (its MD5 is
checked against the file and it is kept), and a small file is sent again
(one PutObject). Nothing secret is stored here.
"""

from __future__ import annotations

import operator
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

from mpugui.core.journal.records import PartRecord as PartRecord
from mpugui.core.journal.records import TransferRecord as TransferRecord
from mpugui.core.journal.schema import JournalError as JournalError
from mpugui.core.journal.schema import migrate
from mpugui.core.paths import private_file
from mpugui.core.s3.endpoint import Endpoint

COMMIT_INTERVAL = 0.03  # seconds a write may wait to share a transaction


_COLUMNS = [f.name for f in fields(TransferRecord) if f.name != "id"]
_ENDPOINT_AT, _SOURCE_AT = _COLUMNS.index("endpoint"), _COLUMNS.index("source")
_MULTIPART_AT, _NO_OVERWRITE_AT = _COLUMNS.index("multipart"), _COLUMNS.index("no_overwrite")
_GET_COLUMNS = operator.attrgetter(*_COLUMNS)
_SELECT = f"SELECT {', '.join(_COLUMNS)}, id FROM transfers"  # id last, as in the dataclass
_INSERT = (f"INSERT INTO transfers ({', '.join(_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(_COLUMNS))})")


def _no_space(path: Path) -> bool:
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()  # the connection
        self._pending_lock = threading.Condition()
        self._updates: dict[int, dict[str, object]] = {}  # id -> latest values
        self._parts: dict[tuple[int, int], PartRecord] = {}
        self._committed = 0  # generation of the last commit
        self._generation = 0  # bumped when a write is queued
        self._failure: JournalError | None = None
        self._closing = False
        try:
            private_file(path)
            self._db = sqlite3.connect(
                path, check_same_thread=False, timeout=5, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed upload id survives power loss, not just a crash.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            migrate(self._db, self.path)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc
        self._endpoints: dict[str, Endpoint] = {}
        self._endpoint_json: dict[Endpoint, str] = {}
        self._writer = threading.Thread(target=self._write_loop, name="mpugui-journal",
                                        daemon=True)
        self._writer.start()

    def _error(self, exc: sqlite3.Error) -> JournalError:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return JournalError(f"The journal {self.path} is locked by another program.")
        if "full" in text or ("disk i/o error" in text and _no_space(self.path)):
            # ENOSPC while creating the -wal/-shm files surfaces as an I/O error.
            return JournalError(f"The disk holding the journal {self.path} is full.")
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return JournalError(
                f"The journal {self.path} is damaged; move it aside to start a new one.")
        return JournalError(f"The journal {self.path} cannot be used: {exc}.")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        self.flush()  # reads see every write made before them
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def close(self) -> None:
        """Commit what is pending, stop the writer, close the database."""
        with self._pending_lock:
            self._closing = True
            self._pending_lock.notify_all()
        self._writer.join()
        with self._lock:
            try:
                self._commit_pending()
            except JournalError:
                pass  # logged by whoever waits; the last committed state stays
            self._db.close()

    # -- grouped writes ---------------------------------------------------------

    def _queue(self, wait: bool) -> None:
        """Called with _pending_lock held after a write was queued."""
        self._generation += 1
        if wait or len(self._updates) + len(self._parts) == 1:
            self._pending_lock.notify_all()  # the writer sleeps only while nothing waits
        if wait:
            mine = self._generation
            while self._committed < mine and self._failure is None and not self._closing:
                self._pending_lock.wait(0.5)
            if self._failure is not None:
                raise self._failure

    def _write_loop(self) -> None:
        while True:
            with self._pending_lock:
                while not (self._updates or self._parts) and not self._closing:
                    self._pending_lock.wait()
                # Let more writes join this transaction; a close does not wait
                # for that (it commits what is pending itself).
                if self._pending_lock.wait_for(lambda: self._closing, COMMIT_INTERVAL):
                    return
            with self._lock:
                try:
                    self._commit_pending()
                except JournalError:
                    failed = True  # kept in _failure; callers raise it
                else:
                    failed = False
            if failed:
                time.sleep(0.5)  # a full disk: try again, not in a busy loop

    def _commit_pending(self) -> None:
        """Write every pending change in one transaction (connection lock held)."""
        with self._pending_lock:
            updates, self._updates = self._updates, {}
            parts, self._parts = self._parts, {}
            generation = self._generation
        if updates or parts:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    # One statement per shape of change (a folder's thousand
                    # state changes are one executemany, not a thousand calls).
                    shapes: dict[tuple[str, ...], list[tuple[object, ...]]] = {}
                    for transfer_id, values in updates.items():
                        shapes.setdefault(tuple(values), []).append(
                            (*values.values(), transfer_id))
                    for names, rows in shapes.items():
                        sets = ", ".join(f"{k} = ?" for k in names)
                        self._db.executemany(f"UPDATE transfers SET {sets} WHERE id = ?", rows)
                    self._db.executemany(
                        "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?)",
                        [(tid, p.number, p.size, p.etag, p.checksum)
                         for (tid, _n), p in parts.items()])
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                error = self._error(exc)
                with self._pending_lock:
                    # Kept for the next commit (newer values win): when space
                    # comes back, nothing queued meanwhile is lost.
                    for transfer_id, values in updates.items():
                        self._updates[transfer_id] = {**values,
                                                      **self._updates.get(transfer_id, {})}
                    self._parts = {**parts, **self._parts}
                    self._failure = error
                    self._pending_lock.notify_all()
                raise error from exc
        with self._pending_lock:
            self._committed = max(self._committed, generation)
            self._failure = None
            self._pending_lock.notify_all()

    def flush(self) -> None:
        """Commit every queued write now (raises JournalError)."""
        with self._lock:
            self._commit_pending()

    # -- transfers -----------------------------------------------------------

    def add(self, rec: TransferRecord) -> int:
        return self.add_many([rec])[0]

    def add_many(self, records: Sequence[TransferRecord]) -> list[int]:
        """Insert transfers in one transaction; sets and returns their ids."""
        if not records:
            return []
        with self._tx() as db:
            (top,) = db.execute("SELECT COALESCE(MAX(position), 0) FROM transfers").fetchone()
            for rec in records:
                if not rec.position:
                    top += 1
                    rec.position = top
            db.executemany(_INSERT, [self._values(r) for r in records])
            # One writer at a time (BEGIN IMMEDIATE) and AUTOINCREMENT: the
            # rows got consecutive ids ending at the last one.
            (last,) = db.execute("SELECT last_insert_rowid()").fetchone()
        first = int(last) - len(records) + 1
        for i, rec in enumerate(records):
            rec.id = first + i
        return [rec.id for rec in records]

    def update(self, transfer_id: int, wait: bool = False, **values: object) -> None:
        """Queue new values for a transfer's row; with wait, return once they
        are committed (raises JournalError when the commit fails)."""
        values["updated_at"] = time.time()
        converted = {k: self._to_db(k, v) for k, v in values.items()}
        with self._pending_lock:
            self._updates.setdefault(transfer_id, {}).update(converted)
            self._queue(wait)

    def set_state_where(self, states: Iterable[str], new_state: str,
                        ids: Iterable[int] | None = None) -> None:
        """One statement: every transfer in `states` (and `ids`) to new_state."""
        self.flush()
        wanted = sorted(set(states))
        sql = (f"UPDATE transfers SET state = ?, updated_at = ? "
               f"WHERE state IN ({', '.join('?' * len(wanted))})")
        with self._tx() as db:
            if ids is None:
                db.execute(sql, (new_state, time.time(), *wanted))
            else:
                db.executemany(sql + " AND id = ?",
                               [(new_state, time.time(), *wanted, i) for i in ids])

    def get(self, transfer_id: int) -> TransferRecord:
        rows = self._query(f"{_SELECT} WHERE id = ?",
                           (transfer_id,))
        if not rows:
            raise JournalError(f"No transfer with id {transfer_id} is in the journal.")
        return self._from_row(rows[0])

    def transfers(self, states: set[str] | frozenset[str] | None = None) -> list[TransferRecord]:
        sql = _SELECT
        args: tuple[str, ...] = ()
        if states is not None:
            args = tuple(sorted(states))
            sql += f" WHERE state IN ({', '.join('?' * len(args))})"
        return [self._from_row(r) for r in self._query(sql + " ORDER BY position, id", args)]

    def upload_ids(self) -> set[str]:
        return {r[0] for r in self._query(
            "SELECT upload_id FROM transfers WHERE upload_id IS NOT NULL")}

    def find(self, bucket: str, keys: Iterable[str]) -> list[TransferRecord]:
        """Transfers to these keys of a bucket (any state)."""
        out: list[TransferRecord] = []
        keys = list(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            out += [self._from_row(r) for r in self._query(
                f"{_SELECT} WHERE bucket = ? AND key "
                f"IN ({', '.join('?' * len(chunk))}) ORDER BY id", (bucket, *chunk))]
        return out

    def remove(self, transfer_id: int) -> None:
        self.remove_many([transfer_id])

    def remove_many(self, ids: Iterable[int]) -> None:
        self.flush()
        with self._tx() as db:
            db.executemany("DELETE FROM transfers WHERE id = ?", [(i,) for i in ids])

    # -- parts ---------------------------------------------------------------

    def record_part(self, transfer_id: int, part: PartRecord) -> None:
        """Queue a finished part; raises the last commit's JournalError while
        commits fail (a full disk), so the part's upload fails with it."""
        with self._pending_lock:
            self._parts[(transfer_id, part.number)] = part
            self._queue(False)
            if self._failure is not None:
                raise self._failure

    def forget_parts(self, transfer_id: int, numbers: list[int] | None = None) -> None:
        self.flush()
        with self._tx() as db:
            if numbers is None:
                db.execute("DELETE FROM parts WHERE transfer_id = ?", (transfer_id,))
            else:
                db.executemany("DELETE FROM parts WHERE transfer_id = ? AND number = ?",
                               [(transfer_id, n) for n in numbers])

    def forget_parts_many(self, transfer_ids: Sequence[int]) -> None:
        """Every part of these transfers, in one transaction (a bulk cancel)."""
        if not transfer_ids:
            return
        self.flush()
        with self._tx() as db:
            db.executemany("DELETE FROM parts WHERE transfer_id = ?",
                           [(i,) for i in transfer_ids])

    def parts(self, transfer_id: int) -> dict[int, PartRecord]:
        rows = self._query(
            "SELECT number, size, etag, checksum FROM parts WHERE transfer_id = ? "
            "ORDER BY number", (transfer_id,))
        return {r[0]: PartRecord(r[0], r[1], r[2], r[3]) for r in rows}

    def all_parts(self) -> dict[int, dict[int, PartRecord]]:
        """Every journaled part, by transfer: one query for a whole restore."""
        out: dict[int, dict[int, PartRecord]] = {}
        for tid, number, size, etag, checksum in self._query(
                "SELECT transfer_id, number, size, etag, checksum FROM parts"):
            out.setdefault(tid, {})[number] = PartRecord(number, size, etag, checksum)
        return out

    def part_counts(self) -> dict[int, int]:
        return dict(self._query("SELECT transfer_id, COUNT(*) FROM parts GROUP BY transfer_id"))

    # -- walks: folders not yet fully journaled -------------------------------

    def add_walk(self, request: str) -> int:
        with self._tx() as db:
            cur = db.execute("INSERT INTO walks (request, created_at) VALUES (?, ?)",
                             (request, time.time()))
            return int(cur.lastrowid or 0)

    def walks(self) -> list[tuple[int, str]]:
        return [(int(r[0]), str(r[1])) for r in
                self._query("SELECT id, request FROM walks ORDER BY id")]

    def finish_walk(self, walk_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM walks WHERE id = ?", (walk_id,))

    # -- row conversion -------------------------------------------------------

    def _values(self, rec: TransferRecord) -> list[object]:
        """A record as the INSERT's values (attrgetter: a folder's rows are
        converted at C speed; sqlite stores bools as integers itself)."""
        values = list(_GET_COLUMNS(rec))
        values[_SOURCE_AT] = os.fsencode(rec.source)  # non-UTF-8 file names survive
        text = self._endpoint_json.get(rec.endpoint)
        if text is None:  # a folder's 100,000 rows share one endpoint
            text = self._endpoint_json[rec.endpoint] = rec.endpoint.to_json()
        values[_ENDPOINT_AT] = text
        return values

    @staticmethod
    def _to_db(name: str, value: object) -> object:
        if name == "source" and isinstance(value, str):
            return os.fsencode(value)  # non-UTF-8 file names survive
        if name == "endpoint" and isinstance(value, Endpoint):
            return value.to_json()
        if isinstance(value, bool):
            return int(value)
        return value

    def _from_row(self, row: tuple) -> TransferRecord:
        values = list(row)
        values[_SOURCE_AT] = os.fsdecode(values[_SOURCE_AT])
        raw = values[_ENDPOINT_AT]
        endpoint = self._endpoints.get(raw)
        if endpoint is None:  # a restore of 100,000 rows parses each endpoint once
            endpoint = self._endpoints[raw] = Endpoint.from_json(raw)
        values[_ENDPOINT_AT] = endpoint
        values[_MULTIPART_AT] = bool(values[_MULTIPART_AT])
        values[_NO_OVERWRITE_AT] = bool(values[_NO_OVERWRITE_AT])
        return TransferRecord(*values)
