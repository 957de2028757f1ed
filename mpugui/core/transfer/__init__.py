"""One transfer's life, Qt-free: how a file is cut into parts (plan), its
live and published state (progress, snapshot), which job runs next
(scheduler, adaptive concurrency), the part bodies and checksums sent, and
bringing a transfer back after a pause or a crash (recovery)."""
