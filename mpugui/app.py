"""Entry point: subcommands run headless; no arguments (or files, or
--sandbox) open the window."""

from __future__ import annotations

import sys

from mpugui.core import gc_policy

_COMMANDS = {"upload", "transfers", "resume", "cancel", "uploads", "-h", "--help", "--version"}


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the process itself (not a test calling in): see gc_policy
        gc_policy.hold()
    args = sys.argv[1:] if argv is None else argv
    command = args[1:] if args[:1] in (["-v"], ["--verbose"]) else args
    if argv is None and command[:1] == ["upload"]:  # (before the imports it overlaps)
        from mpugui.core.s3 import sender_spawn

        sender_spawn.start_early(command[1:])
    from mpugui.cli import main as cli

    if args and args[0] in _COMMANDS:
        return cli.main(args)
    if args and args[0] in ("-v", "--verbose") and len(args) > 1 and args[1] in _COMMANDS:
        return cli.main(args)
    from mpugui.ui.app.launch import run_gui

    return run_gui(args)


if __name__ == "__main__":
    raise SystemExit(main())
