"""Functional tests: the engine and core against real local servers (moto,
s3rver, the fault proxy), real files and a real SQLite journal, in-process."""
