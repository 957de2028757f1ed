"""Where files go: the destination dialog (account, bucket, prefix, part size,
checksum) shown when files are added."""
