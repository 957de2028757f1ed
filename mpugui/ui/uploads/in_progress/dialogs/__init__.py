"""The In-progress tab's dialogs, one a module, all non-modal with signals
for their outcome (so the window stays usable and tests can drive them):
clean up by age (cleanup), continue an upload with the local file (adopt),
the bucket's abort-incomplete lifecycle rule (lifecycle), and what they
share (common: the tab they work on, small form pieces)."""
