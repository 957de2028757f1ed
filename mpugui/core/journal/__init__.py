"""The resume journal: one SQLite database per state directory with every
transfer and its finished parts (store), written in grouped commits."""
