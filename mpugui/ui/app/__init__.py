"""The window and its process: launching (launch, display, single_instance),
the main window with its actions, status bar, log dock, notifier, sandbox
banner and quit guard."""
