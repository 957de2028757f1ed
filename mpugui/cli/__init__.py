"""The command line (QtCore only, no widgets): the parser, exit codes and
the transfer commands (main), what a run prints (report), `mpugui uploads
...` for one bucket (uploads) and for a whole account (orphans), and commands
run through the window that owns the journal (remote). mpugui.app
dispatches here."""
