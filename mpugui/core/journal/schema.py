"""The journal's tables, and the migrations from older versions' journals
(each version adds columns or tables; nothing is ever dropped)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mpugui.core.errors import MpuguiError

SCHEMA_VERSION = 4  # 2: transfers.taper; 3: walks; 4: transfers.evidence

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
    evidence TEXT,
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
CREATE INDEX IF NOT EXISTS transfers_state ON transfers (state);
CREATE INDEX IF NOT EXISTS transfers_key ON transfers (bucket, key);
-- Folders given to an upload whose files are not all journaled yet: a
-- resume walks them again and adds what is missing.
CREATE TABLE IF NOT EXISTS walks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""



class JournalError(MpuguiError):
    pass


# What versions 1-3 wrote as the verification sentence, as evidence tokens
# (core/transfer/verify.py; kept here so the journal needs nothing above it).
_OLD_WORDS = {"size": "size", "multipart ETag": "multipart-etag", "MD5": "md5-etag"}


def evidence_from_sentence(text: str) -> str:
    """'size + composite CRC32C + multipart ETag' -> 'size,composite-crc32c,
    multipart-etag'; 'size + MD5 (PutObject md5)' -> 'size,md5-etag'."""
    tokens = []
    for word in text.split(" (")[0].split(" + "):
        word = word.strip()
        if word in _OLD_WORDS:
            tokens.append(_OLD_WORDS[word])
        elif word.startswith("composite "):
            tokens.append("composite-" + word.split(" ", 1)[1].lower())
    return ",".join(tokens)


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring a journal written by an older version up to this schema (or
    refuse one written by a newer version), then create what is missing."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    if "meta" in tables:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row and int(row[0]) > SCHEMA_VERSION:
            raise JournalError(f"The journal {path} was written by a newer version "
                               "of mpugui; update mpugui to use it.")
    if "transfers" in tables:
        columns = {row[1] for row in db.execute("PRAGMA table_info(transfers)")}
        if "taper" not in columns:  # version 1: every plan had equal parts
            db.execute("ALTER TABLE transfers ADD COLUMN taper INTEGER NOT NULL DEFAULT 0")
        if "evidence" not in columns:  # versions 1-3: only the sentence
            db.execute("ALTER TABLE transfers ADD COLUMN evidence TEXT")
            db.executemany(
                "UPDATE transfers SET evidence = ? WHERE verification = ?",
                [(evidence_from_sentence(text), text) for (text,) in db.execute(
                    "SELECT DISTINCT verification FROM transfers "
                    "WHERE verification IS NOT NULL").fetchall()])
    db.executescript(_SCHEMA)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
               (str(SCHEMA_VERSION),))
