"""The command line's parser: `mpugui upload | transfers | resume | cancel`
and `mpugui uploads ...` (added by mpugui.cli.uploads), with typed option
values (the same checks as the dialogs: mpugui.core.options). Bad usage
raises UsageError, for main to say and exit 2."""

from __future__ import annotations

import argparse
import sys

from mpugui import __version__
from mpugui.cli.arg_types import typed
from mpugui.cli.endpoint_options import add_endpoint_options
from mpugui.core.options import parse_concurrency, parse_part_size
from mpugui.core.s3.checksums import ALGORITHMS, DEFAULT_ALGORITHM
from mpugui.core.s3.plan import DEFAULT_PART_SIZE
from mpugui.core.units import format_bytes, parse_duration, parse_rate


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(message)


PART_SIZE, RATE, DURATION = typed(parse_part_size), typed(parse_rate), typed(parse_duration)
CONCURRENCY = typed(parse_concurrency)
MAX_WAIT_HELP = ("when the network or the server is down, give up after this long (e.g. 90s, "
                 "10m, 2h; 0: at once) and exit 1, the transfers resumable; default: wait "
                 "until it is back")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mpugui", description="S3 multipart upload manager. "
                     "Without a command, opens the window.")
    parser.add_argument("--version", action="version", version=f"mpugui {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log detail to stderr")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    up = sub.add_parser("upload", help="upload files and folders",
                        description="Upload files and folders (recursively) to S3.")
    up.add_argument("paths", nargs="+", metavar="SOURCE... s3://BUCKET[/KEY_OR_PREFIX]")
    add_endpoint_options(up)
    up.add_argument("--part-size", type=PART_SIZE,
                    help=f"part size, e.g. 16MiB (default {format_bytes(DEFAULT_PART_SIZE)}, "
                         "raised automatically so a file fits in 10,000 parts)")
    up.add_argument("--concurrency", type=CONCURRENCY,
                    help="parts in flight at once (default: adaptive, found while running)")
    up.add_argument("--checksum", choices=sorted(ALGORITHMS), default=None,
                    help=f"per-part integrity checksum (default {DEFAULT_ALGORITHM}; none "
                         "with --checksum-when-required)")
    up.add_argument("--storage-class", help="e.g. STANDARD_IA, GLACIER_IR")
    up.add_argument("--no-overwrite", action="store_true",
                    help="fail instead of replacing an existing object (If-None-Match: *)")
    skip = up.add_mutually_exclusive_group()
    skip.add_argument("--skip-existing", dest="skip_existing", action="store_true",
                      default=None,
                      help="skip files already at the destination with the same size and "
                           "content (default for folders)")
    skip.add_argument("--no-skip-existing", dest="skip_existing", action="store_false",
                      help="upload every file, also those already there (default for files)")
    up.add_argument("--bwlimit", type=RATE, default=0,
                    help="bandwidth limit for all parts together, e.g. 10MB/s")
    up.add_argument("--max-wait", type=DURATION, default=None, metavar="DURATION",
                    help=MAX_WAIT_HELP)
    up.add_argument("--json", action="store_true", help="one JSON object per line")

    tr = sub.add_parser("transfers", help="list journaled transfers")
    tr.add_argument("--json", action="store_true")

    rs = sub.add_parser("resume", help="resume paused, failed or interrupted transfers")
    rs.add_argument("ids", nargs="*", type=int, metavar="ID")
    rs.add_argument("--all", action="store_true", help="every unfinished transfer")
    rs.add_argument("--restart", action="store_true",
                    help="start over: abort the old upload and send the whole file again")
    rs.add_argument("--concurrency", type=CONCURRENCY,
                    help="parts in flight at once (default: adaptive)")
    rs.add_argument("--bwlimit", type=RATE, default=0)
    rs.add_argument("--max-wait", type=DURATION, default=None, metavar="DURATION",
                    help=MAX_WAIT_HELP)
    rs.add_argument("--json", action="store_true")

    ca = sub.add_parser("cancel", help="cancel transfers and delete their parts from the bucket")
    ca.add_argument("ids", nargs="+", type=int, metavar="ID")
    ca.add_argument("--json", action="store_true")

    from mpugui.cli import uploads  # the in-progress uploads commands

    uploads.add_parser(sub, add_endpoint_options)
    return parser
