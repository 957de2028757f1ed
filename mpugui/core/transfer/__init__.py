"""One transfer's life, Qt-free: its S3 calls (multipart) and what proves
the object (verify), its live and published state (progress, snapshot),
which job runs next (scheduler, adaptive concurrency), the part bodies sent
(body, bandwidth), bringing a transfer back after a pause or a crash
(recovery, outage), walking a folder into the queue (feeder, request) and
skipping what is already there (existing)."""
