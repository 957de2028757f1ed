"""The transfer engine: QtCore only. Schedules parts onto worker QThreads and
publishes one coalesced progress snapshot per tick."""
