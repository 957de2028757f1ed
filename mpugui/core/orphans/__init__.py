"""Orphaned (unfinished) multipart uploads across a whole account, Qt-free:
scan every bucket in its own region (scan.py), price what they hold
(prices.py), tell which buckets abort them by lifecycle (protection.py), add
it up into one sentence (totals.py) and remember the last scan (memory.py).

Per-bucket listing, sizing, aborting and the lifecycle merge are
mpugui.core.inventory's; this package only spreads them over an account.
"""
