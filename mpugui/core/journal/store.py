"""The resume journal: one SQLite database (WAL) with every transfer and each
finished part, committed as it finishes.

The upload id is written before the first part leaves, so a crash at any
moment loses at most the parts in flight. Nothing secret is stored here.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

from mpugui.core.endpoint import Endpoint
from mpugui.core.errors import MpuguiError
from mpugui.core.paths import private_file
from mpugui.core.transfer.plan import DEFAULT_PART_SIZE, Plan, make_plan

SCHEMA_VERSION = 2  # 2: transfers.taper

# States of a transfer, as the journal and the engine name them.
QUEUED, UPLOADING, PAUSED, ASSEMBLING, VERIFYING = (
    "queued", "uploading", "paused", "assembling", "verifying")
DONE, FAILED, CANCELLED = "done", "failed", "cancelled"
FINAL_STATES = frozenset({DONE, CANCELLED})
ACTIVE_STATES = frozenset({UPLOADING, ASSEMBLING, VERIFYING})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transfers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    position REAL NOT NULL,
    source BLOB NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sample TEXT NOT NULL,
    part_size INTEGER NOT NULL,
    multipart INTEGER NOT NULL,
    taper INTEGER NOT NULL DEFAULT 0,
    checksum TEXT NOT NULL,
    storage_class TEXT,
    content_type TEXT,
    no_overwrite INTEGER NOT NULL DEFAULT 0,
    upload_id TEXT,
    state TEXT NOT NULL,
    error TEXT,
    verification TEXT,
    final_etag TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    transfer_id INTEGER NOT NULL REFERENCES transfers(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    checksum TEXT,
    PRIMARY KEY (transfer_id, number)
);
"""


class JournalError(MpuguiError):
    pass


@dataclass
class TransferRecord:
    source: str
    bucket: str
    key: str
    endpoint: Endpoint
    size: int
    mtime_ns: int
    sample: str
    part_size: int
    multipart: bool
    checksum: str
    taper: int = 0  # the plan's taper (core/transfer/plan.py): resume rebuilds the same parts
    storage_class: str | None = None
    content_type: str | None = None
    no_overwrite: bool = False
    upload_id: str | None = None
    state: str = QUEUED
    error: str | None = None
    verification: str | None = None
    final_etag: str | None = None
    position: float = 0.0
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    id: int = 0

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def plan(self) -> Plan:
        """The parts this transfer is cut into (rebuilt from the row, the same
        every time: resume depends on it)."""
        return make_plan(self.size, self.part_size or DEFAULT_PART_SIZE,
                         threshold=0 if self.multipart else self.size + 1, taper=self.taper)


@dataclass(frozen=True)
class PartRecord:
    number: int
    size: int
    etag: str
    checksum: str | None


_COLUMNS = [f.name for f in fields(TransferRecord) if f.name != "id"]


def _no_space(path: Path) -> bool:
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            private_file(path)
            self._db = sqlite3.connect(
                path, check_same_thread=False, timeout=5, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed upload id survives power loss, not just a crash.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def _migrate(self) -> None:
        """Bring a journal written by an older version up to this schema."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row and int(row[0]) > SCHEMA_VERSION:
            raise JournalError(f"The journal {self.path} was written by a newer version of "
                               "mpugui; update mpugui to use it.")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(transfers)")}
        if "taper" not in columns:  # version 1: every plan had equal parts
            self._db.execute("ALTER TABLE transfers ADD COLUMN taper INTEGER NOT NULL DEFAULT 0")
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))

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

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                cur = self._db.execute(sql, args)
                return cur.fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transfers -----------------------------------------------------------

    def add(self, rec: TransferRecord) -> int:
        with self._tx() as db:
            if not rec.position:
                (top,) = db.execute("SELECT COALESCE(MAX(position), 0) FROM transfers").fetchone()
                rec.position = top + 1
            values = [self._to_db(name, getattr(rec, name)) for name in _COLUMNS]
            cur = db.execute(
                f"INSERT INTO transfers ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})", values)
            rec.id = int(cur.lastrowid or 0)
        return rec.id

    def update(self, transfer_id: int, **values: object) -> None:
        values["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in values)
        args = [self._to_db(k, v) for k, v in values.items()]
        with self._tx() as db:
            db.execute(f"UPDATE transfers SET {sets} WHERE id = ?", (*args, transfer_id))

    def get(self, transfer_id: int) -> TransferRecord:
        rows = self._query(
            f"SELECT id, {', '.join(_COLUMNS)} FROM transfers WHERE id = ?", (transfer_id,))
        if not rows:
            raise JournalError(f"No transfer with id {transfer_id} is in the journal.")
        return self._from_row(rows[0])

    def transfers(self, states: set[str] | frozenset[str] | None = None) -> list[TransferRecord]:
        rows = self._query(
            f"SELECT id, {', '.join(_COLUMNS)} FROM transfers ORDER BY position, id")
        records = [self._from_row(r) for r in rows]
        return [r for r in records if states is None or r.state in states]

    def remove(self, transfer_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM transfers WHERE id = ?", (transfer_id,))

    # -- parts ---------------------------------------------------------------

    def record_part(self, transfer_id: int, part: PartRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?)",
                (transfer_id, part.number, part.size, part.etag, part.checksum))

    def forget_parts(self, transfer_id: int, numbers: list[int] | None = None) -> None:
        with self._tx() as db:
            if numbers is None:
                db.execute("DELETE FROM parts WHERE transfer_id = ?", (transfer_id,))
            else:
                db.executemany("DELETE FROM parts WHERE transfer_id = ? AND number = ?",
                               [(transfer_id, n) for n in numbers])

    def parts(self, transfer_id: int) -> dict[int, PartRecord]:
        rows = self._query(
            "SELECT number, size, etag, checksum FROM parts WHERE transfer_id = ? "
            "ORDER BY number", (transfer_id,))
        return {r[0]: PartRecord(r[0], r[1], r[2], r[3]) for r in rows}

    # -- row conversion -------------------------------------------------------

    @staticmethod
    def _to_db(name: str, value: object) -> object:
        if name == "source" and isinstance(value, str):
            return os.fsencode(value)  # non-UTF-8 file names survive
        if name == "endpoint" and isinstance(value, Endpoint):
            return value.to_json()
        if isinstance(value, bool):
            return int(value)
        return value

    @staticmethod
    def _from_row(row: tuple) -> TransferRecord:
        data = dict(zip(["id", *_COLUMNS], row, strict=True))
        data["source"] = os.fsdecode(data["source"])
        data["endpoint"] = Endpoint.from_json(data["endpoint"])
        data["multipart"] = bool(data["multipart"])
        data["no_overwrite"] = bool(data["no_overwrite"])
        return TransferRecord(**data)
