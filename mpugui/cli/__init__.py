"""The command line (QtCore only, no widgets): main (parse, own the state
directory, run, exit code), the parser, the connection options
(endpoint_options), the exit codes, the transfer commands (transfers), what
a run prints (report), `mpugui uploads ...` for one bucket (uploads) and for
a whole account (orphans), and commands run through the window that owns
the journal (remote). mpugui.app dispatches here."""
