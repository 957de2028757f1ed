"""The command line's exit codes, one meaning each, for every command.

0 everything done; 1 a transfer failed (it stays resumable); 2 bad usage or
input (nothing lost); 3 interrupted by Ctrl-C/SIGTERM (paused, resume with
`mpugui resume`); 4 the journal or settings cannot be used; 5 the journal is
in use by another mpugui (the window or another command that changes
transfers; nothing was done); 128 + SIGPIPE the reader of the output went
away (`mpugui transfers | head -1`), as a shell reports it.
"""

from __future__ import annotations

import signal

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_JOURNAL = 0, 1, 2, 3, 4
EXIT_BUSY = 5
EXIT_PIPE = 128 + signal.SIGPIPE
