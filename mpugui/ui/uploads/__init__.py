"""In-progress multipart uploads on the server: the In-progress uploads tab for
one bucket (uploads_browser and its pieces, its models, and dialogs/: adopt,
clean up, lifecycle), the All buckets tab for an account (account_view, its
bucket table, bar delegate and bulk dialogs) and the storage prices dialog."""
