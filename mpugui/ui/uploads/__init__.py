"""In-progress multipart uploads on the server, one folder per tab: the
In-progress uploads tab for one bucket (uploads_browser, its pieces in
in_progress/ with its dialogs in in_progress/dialogs/), the All buckets tab
for an account (account_view, its pieces in all_buckets/), the uploads and
parts models both tabs show (models) and the storage prices dialog."""
