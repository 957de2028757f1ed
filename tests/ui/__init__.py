"""Widget tests (pytest-qt, offscreen): the window, its models, views and
dialogs, in-process against moto."""
