"""The states of a transfer and of its parts, one definition each.

StrEnum members are the strings themselves: the journal stores them as they
are, --json prints them as they are, and a state read back from SQLite (a
plain str) equals and hashes as its member. A transfer moves between them
only through the engine's one transition (engine._move).
"""

from __future__ import annotations

from enum import StrEnum


class TransferState(StrEnum):
    QUEUED = "queued"
    UPLOADING = "uploading"
    PAUSED = "paused"
    ASSEMBLING = "assembling"  # CompleteMultipartUpload sent
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Stopped by a transient cause (the network, the server's 5xx), resuming by
    # itself when its endpoint answers again (core/transfer/outage.py).
    WAITING = "waiting"


class PartState(StrEnum):
    PENDING = "pending"
    UPLOADING = "uploading"
    DONE = "done"
    FAILED = "failed"


# The transfer states by name as well: the engine names them on nearly every
# other line (the same members, not a second definition).
QUEUED = TransferState.QUEUED
UPLOADING = TransferState.UPLOADING
PAUSED = TransferState.PAUSED
ASSEMBLING = TransferState.ASSEMBLING
VERIFYING = TransferState.VERIFYING
DONE = TransferState.DONE
FAILED = TransferState.FAILED
CANCELLED = TransferState.CANCELLED
WAITING = TransferState.WAITING

FINAL_STATES = frozenset({DONE, CANCELLED})
ACTIVE_STATES = frozenset({UPLOADING, ASSEMBLING, VERIFYING})  # talking to the server
# Not finished and not stopped: what counts as work still going on.
MOVING_STATES = frozenset({QUEUED, UPLOADING, ASSEMBLING, VERIFYING})
