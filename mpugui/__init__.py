"""mpugui: a desktop upload manager for S3 multipart uploads."""

__version__ = "0.1.0"
