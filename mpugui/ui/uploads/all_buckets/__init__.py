"""The All buckets tab's pieces (the tab itself is ui/uploads/all_buckets_tab.py,
where the window finds it): the scan's inbox, the top row, the sentences,
the buckets table with its model and bar delegate, the scan's rows by
bucket, and the bulk dialogs (protect all, abort old uploads)."""
