"""A bucket's in-progress multipart uploads, Qt-free, one concept a module:
listing (uploads, parts, sizes, ages, cost), aborts, adopt (continue one
with the local file), lifecycle (the rule that aborts them server-side),
errors (the sentences). orphans/ spreads these over a whole account."""
