"""The transfer engine: QtCore only. Schedules parts onto worker QThreads and
publishes one coalesced progress snapshot per tick. Beside it, the off-thread
S3 work of the window with no widget: the TaskRunner's pool and the uploads
browser's inventory controller."""
