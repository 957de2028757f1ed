"""The S3 protocol, below the journal and transfers: endpoints and clients
(endpoint), what a store gets wrong (stores) and what its encryption hides
(encryption), checksums and ETags (checksums), S3's multipart limits and how
a file is cut into parts (plan), s3:// URIs (uri), and the small-file PUT route
with its asyncio loop (smallput, putloop). Nothing here knows the journal."""
