"""End to end: the CLI and the app as subprocesses, as a user runs them (the
CLI's commands, exit codes and JSON, crashes and resume, one window per state
directory, the real window in Xvfb)."""
