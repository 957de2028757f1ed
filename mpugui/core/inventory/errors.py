"""What went wrong with a bucket's in-progress uploads, as one sentence: an
access denial names the permission that is missing."""

from __future__ import annotations

from botocore.exceptions import ClientError

from mpugui.core.errors import MpuguiError, describe, error_code


class InventoryError(MpuguiError):
    """A listing, abort, adopt or lifecycle step failed; the message is a sentence."""


class UploadGone(InventoryError):
    """The upload was completed, aborted or expired since it was listed."""


# -- access denied, per permission ---------------------------------------------

# S3 operation -> (IAM action it needs, what the user was doing)
_PERMISSIONS = {
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads",
                             "listing the in-progress uploads of"),
    "ListParts": ("s3:ListMultipartUploadParts", "listing the parts of an upload in"),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", "aborting uploads in"),
    "GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration",
                                        "reading the lifecycle rules of"),
    "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",
                                        "changing the lifecycle rules of"),
}


def explain(exc: BaseException, bucket: str = "") -> str:
    """One sentence for a failed call; an access denial names the missing
    permission (botocore's ClientError knows which operation failed)."""
    op = getattr(exc, "operation_name", "") or ""
    perm = _PERMISSIONS.get(op)
    if perm and error_code(exc) in ("AccessDenied", "403", "Forbidden"):
        action, doing = perm
        return (f"Access denied: {doing} bucket '{bucket}' needs the {action} permission, "
                "which these credentials do not have.")
    return describe(exc, bucket=bucket, op=perm[0] if perm else "this operation")


def fail(exc: ClientError, bucket: str) -> InventoryError:
    return InventoryError(explain(exc, bucket))
