"""Qt-free core, in rooms by concept (each one-way: s3 < journal < transfer <
inventory < orphans): the S3 protocol (s3/), the resume journal (journal/),
one transfer's life (transfer/), a bucket's in-progress uploads (inventory/),
the same across an account (orphans/); the flat modules are the basics every
room uses: the transfer and part states (states), errors, units, paths,
accounts and secrets, sources, logging, preflight, the sandbox, malloc settings."""
