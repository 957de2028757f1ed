"""Where files go: the destination dialog (account, bucket, prefix, part size,
checksum) shown when files are added, built from its fields (account_field,
bucket_field, send_options), the key preview, the value it hands back
(destination) and the last choice per account (remembered)."""
