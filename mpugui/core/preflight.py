"""The pre-flight of "Test connection": can this account upload, resume
and clean up? Each answer is one sentence a person can act on.

STS is not used: S3-compatible stores have none. ListBuckets (or HeadBucket)
proves the credentials; resume needs ListBucketMultipartUploads and cancel
needs AbortMultipartUpload, tested by aborting an upload ID that cannot
exist (NoSuchUpload means the call was allowed, AccessDenied that it is not).
Runs on a worker thread; no Qt here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore import exceptions as bx
from botocore.config import Config

from mpugui.core.errors import describe, error_code
from mpugui.core.s3.endpoint import (
    Endpoint,
    client_config,
    make_session,
    new_session,
    validate_endpoint_url,
)
from mpugui.core.s3.uri import bucket_name_problem

CREDENTIALS = "Credentials"
BUCKET = "Bucket"
LIST_UPLOADS = "List in-progress uploads"
ABORT_UPLOADS = "Abort uploads"

_DENIED = {"AccessDenied", "AllAccessDisabled", "403"}
_BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                    "InvalidToken", "TokenRefreshRequired", "InvalidClientTokenId",
                    "RequestTimeTooSkewed"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not tested, or the answer could not be told
    sentence: str


# A test should answer in seconds: a silent endpoint costs at most two
# attempts of this read timeout before the sentence says so.
TEST_READ_TIMEOUT = 10.0


def make_test_client(endpoint: Endpoint, secret: str | None = None,
                     read_timeout: float = TEST_READ_TIMEOUT) -> Any:
    """A throw-away client for what the account form says right now.

    With `secret`, the access key pair is used directly (the form's secret is
    not in keyring yet); otherwise the endpoint's usual credentials. Fewer
    retries than the upload client: a test should answer in seconds.
    """
    validate_endpoint_url(endpoint.endpoint_url)
    if endpoint.access_key_id and secret:
        session = new_session(aws_access_key_id=endpoint.access_key_id,
                                        aws_secret_access_key=secret,
                                        region_name=endpoint.region)
    else:
        session = make_session(endpoint)
    config = client_config(endpoint).merge(
        Config(retries={"mode": "standard", "total_max_attempts": 2},
               connect_timeout=min(5, read_timeout), read_timeout=read_timeout))
    verify: bool | str = endpoint.ca_bundle or endpoint.verify_tls
    return session.create_client("s3", endpoint_url=endpoint.endpoint_url or None,
                                 config=config, verify=None if verify is True else verify)


def _status(exc: bx.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _check_credentials(client: Any) -> tuple[Check, bool]:
    """(check, go_on): go_on is False when nothing else can work."""
    try:
        buckets = client.list_buckets().get("Buckets", [])
    except bx.ClientError as exc:
        code = error_code(exc) or ""
        if code in _DENIED:
            # The server checked the signature and then refused the action:
            # the credentials are good, only ListBuckets is not granted.
            return Check(CREDENTIALS, True,
                         "The credentials are valid, but listing buckets is not allowed; "
                         "type bucket names by hand."), True
        if code in _BAD_CREDENTIALS:
            return Check(CREDENTIALS, False, describe(exc)), False
        return Check(CREDENTIALS, None,
                     "Listing buckets failed, so the credentials could not be confirmed: "
                     + describe(exc, op="listing buckets")), True
    except bx.ConnectionClosedError as exc:
        # At first contact, a plain-HTTP request to a TLS port is cut off.
        url = str(exc.kwargs.get("endpoint_url") or "")
        hint = (" If the endpoint uses HTTPS, its URL should begin with https://."
                if url.startswith("http://") else "")
        return Check(CREDENTIALS, False, describe(exc) + hint), False
    except Exception as exc:  # no credentials, SSO expired, unreachable, TLS ...
        return Check(CREDENTIALS, False, describe(exc)), False
    n = len(buckets)
    return Check(CREDENTIALS, True,
                 f"The credentials are valid; the account can see {n} "
                 f"bucket{'s' if n != 1 else ''}."), True


def _region_of(response: Mapping[str, Any]) -> str | None:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return response.get("BucketRegion") or headers.get("x-amz-bucket-region") or None


def _check_bucket(client: Any, bucket: str) -> tuple[Check, bool]:
    configured = client.meta.region_name
    try:
        response = client.head_bucket(Bucket=bucket)
    except bx.ClientError as exc:
        code, status = error_code(exc) or "", _status(exc)
        if status == 404 or code in ("404", "NoSuchBucket"):
            return Check(BUCKET, False, f"The bucket '{bucket}' does not exist."), False
        if status == 403 or code in _DENIED:
            return Check(BUCKET, False,
                         f"The bucket '{bucket}' exists, but these credentials may not "
                         "access it."), False
        if status == 301 or code in ("301", "PermanentRedirect"):
            actual = _region_of(exc.response)
            where = f"in region {actual}" if actual else "in another region"
            return Check(BUCKET, False,
                         f"The bucket '{bucket}' is {where}, not {configured}: set the "
                         f"account's region to {actual or 'the bucket’s region'}."), False
        if status == 400 or code == "AuthorizationHeaderMalformed":
            return Check(BUCKET, False,
                         f"The server rejected the request for '{bucket}' (400): the account's "
                         f"region ({configured}) is probably wrong for this bucket or "
                         "endpoint."), False
        return Check(BUCKET, False, describe(exc, bucket=bucket)), False
    except Exception as exc:
        return Check(BUCKET, False, describe(exc, bucket=bucket)), False
    actual = _region_of(response)
    if actual and configured and actual != configured:
        return Check(BUCKET, True,
                     f"The bucket '{bucket}' is reachable. It is in {actual} while the "
                     f"account's region is {configured}: set the region to {actual} to "
                     "avoid a redirect on every request."), True
    region = f" (region {actual})" if actual else ""
    return Check(BUCKET, True, f"The bucket '{bucket}' is reachable{region}."), True


def _check_list_uploads(client: Any, bucket: str) -> Check:
    try:
        response = client.list_multipart_uploads(Bucket=bucket, MaxUploads=1)
    except bx.ClientError as exc:
        if (error_code(exc) or "") in _DENIED:
            return Check(LIST_UPLOADS, False,
                         "Listing in-progress uploads is denied "
                         "(s3:ListBucketMultipartUploads): interrupted uploads cannot be "
                         "found again, and orphaned uploads cannot be listed.")
        return Check(LIST_UPLOADS, False,
                     describe(exc, bucket=bucket, op="listing in-progress uploads"))
    except Exception as exc:
        return Check(LIST_UPLOADS, False, describe(exc, bucket=bucket))
    found = " There is at least one in progress now." if response.get("Uploads") else ""
    return Check(LIST_UPLOADS, True,
                 "Listing in-progress uploads is allowed, so interrupted uploads can be "
                 "found and resumed." + found)


def _check_abort(client: Any, bucket: str) -> Check:
    # An upload ID that cannot exist: nothing real is ever aborted.
    token = uuid.uuid4().hex
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=f".mpugui-preflight/{token}",
                                      UploadId=f"mpugui-preflight-{token}")
    except bx.ClientError as exc:
        code = error_code(exc) or ""
        if code in ("NoSuchUpload", "404"):
            pass  # the permission check passed; only the upload is missing
        elif code in _DENIED:
            return Check(ABORT_UPLOADS, False,
                         "Aborting uploads is denied (s3:AbortMultipartUpload): cancelling "
                         "cannot delete uploaded parts, which stay billed until a lifecycle "
                         "rule removes them.")
        else:
            return Check(ABORT_UPLOADS, None,
                         "Could not tell whether aborting uploads is allowed: "
                         + describe(exc, bucket=bucket, op="aborting uploads"))
    except Exception as exc:
        return Check(ABORT_UPLOADS, None,
                     "Could not tell whether aborting uploads is allowed: "
                     + describe(exc, bucket=bucket))
    return Check(ABORT_UPLOADS, True,
                 "Aborting uploads is allowed, so cancelling removes the uploaded parts "
                 "from the bucket.")


def preflight(client: Any, bucket: str | None) -> list[Check]:
    """Run the checks in order; later ones are skipped (ok=None, with the
    reason) when an earlier one makes them meaningless."""
    creds, go_on = _check_credentials(client)
    checks = [creds]
    upload_checks = (LIST_UPLOADS, ABORT_UPLOADS)
    if not go_on:
        reason = "Not tested: the connection or the credentials failed."
        return checks + [Check(n, None, reason) for n in (BUCKET, *upload_checks)]
    if not bucket:
        return checks + [Check(n, None, "Not tested: enter a bucket to test it.")
                         for n in (BUCKET, *upload_checks)]
    problem = bucket_name_problem(bucket)
    bucket_check, reachable = ((Check(BUCKET, False, problem), False) if problem
                               else _check_bucket(client, bucket))
    checks.append(bucket_check)
    if creds.ok is None and reachable:
        checks[0] = Check(CREDENTIALS, True,
                          f"The credentials are valid (the bucket '{bucket}' answered).")
    if not reachable:
        reason = "Not tested: the bucket is not reachable."
        return checks + [Check(n, None, reason) for n in upload_checks]
    checks.append(_check_list_uploads(client, bucket))
    checks.append(_check_abort(client, bucket))
    return checks
