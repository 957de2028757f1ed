"""In-progress multipart uploads on the server, one folder per tab: the
In-progress uploads tab for one bucket (in_progress_tab, its pieces in
in_progress/ with its dialogs in in_progress/dialogs/), the All buckets tab
for an account (all_buckets_tab, its pieces in all_buckets/), the uploads and
parts models both tabs show (models) and the storage prices dialog."""
