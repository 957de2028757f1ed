"""Qt-free core: planning, S3 clients, journal, checksums, inventory, errors."""
