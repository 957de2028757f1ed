"""Turning exceptions into one sentence a user can act on.

The sentence goes to the window or the terminal; the exception with its
detail goes to the log. `is_transient` decides whether a part that failed
after botocore's own retries is worth trying again later.
"""

from __future__ import annotations

import errno
import re
import socket
from urllib.parse import urlsplit

from botocore import exceptions as bx


class MpuguiError(Exception):
    """An error whose message is already a sentence for the user."""


class SourceChanged(MpuguiError):
    """The local file no longer matches what was planned or journaled."""


class Interrupted(Exception):
    """Raised inside a part's body stream when its transfer is paused or
    cancelled. Not an OSError, so botocore does not retry it."""


_CODE_SENTENCES = {
    "AccessDenied": "Access denied: the account's credentials do not allow {op}.",
    "AllAccessDisabled": "Access to this bucket has been disabled.",
    "InvalidAccessKeyId": "The access key ID is not known to the server. Check the account's key.",
    "SignatureDoesNotMatch": "The secret key is wrong (the server rejected the request signature).",
    "ExpiredToken": "The session token has expired. Sign in again (for SSO: aws sso login).",
    "InvalidToken": "The session token is not valid. Sign in again.",
    "TokenRefreshRequired": "The session token has expired. Sign in again.",
    "RequestTimeTooSkewed": "This computer's clock is too far from the server's. Fix the clock.",
    "NoSuchBucket": "The bucket '{bucket}' does not exist.",
    "InvalidBucketName": "'{bucket}' is not a valid bucket name.",
    "NoSuchUpload": "The multipart upload no longer exists on the server "
    "(it was aborted or expired). The upload must start over.",
    "EntityTooSmall": "The server refused the upload: a part other than the last is "
    "smaller than 5 MiB.",
    "EntityTooLarge": "The server refused the upload: it is larger than the server allows.",
    "InvalidPart": "The server does not have one of the parts the journal lists.",
    "InvalidPartOrder": "The parts were not listed in ascending order.",
    "PreconditionFailed": "The object already exists and the transfer is set not to overwrite it.",
    "BadDigest": "The data the server received does not match its checksum.",
    "InvalidDigest": "The server rejected the part's checksum.",
    "AuthorizationHeaderMalformed": "The region is wrong for this bucket or endpoint.",
    "PermanentRedirect": "The bucket is in another region; set the account's region.",
    "SlowDown": "The server asked to slow down (503 SlowDown).",
    "ServiceUnavailable": "The service is unavailable right now.",
    "InternalError": "The server had an internal error.",
    "RequestTimeout": "The connection was idle too long and the server closed it.",
    "KeyTooLongError": "The key is longer than S3 allows (1024 bytes).",
}

# What a store answers for an S3 operation it lacks (s3rver: ListParts and
# AbortMultipartUpload 405, ListMultipartUploads and lifecycle 501).
_UNSUPPORTED_CODES = {"MethodNotAllowed", "NotImplemented"}

_TRANSIENT_CODES = {
    "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "BadDigest",
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "500", "502", "503", "504",
}


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, bx.ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def unsupported(exc: BaseException) -> bool:
    """The server lacks the operation: asking again will not help."""
    if not isinstance(exc, bx.ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error_code(exc) in _UNSUPPORTED_CODES or int(status or 0) in (405, 501)


# What a missing operation means for the user.
_WITHOUT = {
    "ListMultipartUploads": "in-progress uploads cannot be listed here; `mpugui transfers` "
    "still shows the ones this app started",
    "ListParts": "the parts of an upload cannot be listed here",
    "AbortMultipartUpload": "uploads cannot be aborted here; their parts stay on the server",
    "PutBucketLifecycleConfiguration": "lifecycle rules cannot be set here",
    "GetBucketLifecycleConfiguration": "lifecycle rules cannot be read here",
}


def unsupported_sentence(exc: bx.ClientError) -> str:
    op = getattr(exc, "operation_name", "") or "this operation"
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    sentence = f"The server does not support {op} ({status} {error_code(exc) or ''})".replace(
        " )", ")")
    consequence = _WITHOUT.get(op)
    return f"{sentence}: {consequence}." if consequence else f"{sentence}."


def is_transient(exc: BaseException) -> bool:
    """Worth another try after a pause: network trouble and server overload,
    not denials, missing buckets or changed files."""
    if isinstance(exc, (MpuguiError, Interrupted)):
        return False
    if isinstance(exc, bx.ClientError):
        if unsupported(exc):  # 501 NotImplemented stays true
            return False
        code = error_code(exc) or ""
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in _TRANSIENT_CODES or int(status or 0) >= 500
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionClosedError,
                        bx.ReadTimeoutError, bx.ConnectTimeoutError, bx.ProxyConnectionError)):
        return True
    if isinstance(exc, bx.SSLError):
        return False
    return isinstance(exc, (bx.HTTPClientError, ConnectionError, TimeoutError))


def is_unreachable(exc: BaseException) -> bool:
    """The endpoint cannot be reached (refused, DNS, no route, connect
    timeout) or stopped answering (no answer, or no byte of the body taken,
    for a whole timeout: a frozen link; see is_stalled): the next request would
    most likely fail the same way, so a transfer waits for the endpoint at
    once instead of retrying part by part. A reset is not counted: under load
    one request in a few hundred meets one with nothing down."""
    return is_stalled(exc) or isinstance(exc, (
        bx.EndpointConnectionError, bx.ProxyConnectionError, ConnectionRefusedError))


def is_stalled(exc: BaseException) -> bool:
    """A request that got no answer, or whose body made no progress, for a
    whole timeout: the connect or read timeout, or a send that stalled (the
    peer acknowledged no byte for the socket's timeout, which botocore
    reports as "the server closed the connection"). It already waited the
    full timeout; sending it again at once would wait again."""
    if isinstance(exc, (bx.ReadTimeoutError, bx.ConnectTimeoutError)):
        return True
    if isinstance(exc, bx.ConnectionClosedError):
        cause = exc.kwargs.get("error")  # urllib3's ProtocolError("Connection aborted.", why)
        return any(isinstance(a, TimeoutError) for a in getattr(cause, "args", ()))
    return False


def is_tls_failure(exc: BaseException) -> bool:
    """The TLS handshake failed (certificate not verified, or cut short).
    Transient only for an endpoint that answered before (the engine knows):
    then it is a network login page or a middlebox in the way, not a wrong
    certificate."""
    return isinstance(exc, bx.SSLError)


TLS_AGAIN = ("The secure connection to the endpoint failed, though it answered before "
             "(a network login page or a proxy may be in the way).")


def describe(exc: BaseException, *, bucket: str = "", op: str = "this operation",
             profile: str | None = None) -> str:
    """One sentence for the user (`profile`: the AWS profile, so that an
    expired sign-in says exactly how to sign in again)."""
    sentence = _describe(exc, bucket, op)
    if profile and "aws sso login" in sentence:
        sentence = sentence.replace("aws sso login", f"aws sso login --profile {profile}")
    return sentence


def _describe(exc: BaseException, bucket: str, op: str) -> str:
    if isinstance(exc, MpuguiError):
        return str(exc)
    if isinstance(exc, bx.NoCredentialsError):
        return ("No credentials were found. Add an account, set AWS_PROFILE, "
                "or configure the AWS CLI (aws configure).")
    if isinstance(exc, bx.PartialCredentialsError):
        return "The credentials are incomplete (a key ID without its secret, or the reverse)."
    if isinstance(exc, (bx.SSOTokenLoadError, bx.UnauthorizedSSOTokenError)):
        return "The SSO session has expired. Run: aws sso login"
    if isinstance(exc, bx.ProfileNotFound):
        return f"The AWS profile '{exc.kwargs.get('profile', '')}' is not in the AWS config."
    if isinstance(exc, bx.SSLError):
        return _tls_sentence(exc)
    if isinstance(exc, bx.EndpointConnectionError):
        return (f"The endpoint could not be reached ({exc.kwargs.get('endpoint_url', '')})"
                f"{_why_unreachable(exc)}.")
    if isinstance(exc, bx.ConnectTimeoutError):
        return (f"The connection to the endpoint timed out: {_host(exc)} did not accept it "
                "in time (the host may be down, or a firewall drops the connection).")
    if isinstance(exc, bx.ReadTimeoutError):
        limit = re.search(r"read timeout=([\d.]+)", str(exc.kwargs.get("error", "")))
        within = f" within {float(limit.group(1)):g} s" if limit else " in time"
        return (f"The connection to the endpoint timed out: {_host(exc)} accepted the "
                f"connection but did not answer{within}.")
    if isinstance(exc, bx.ConnectionClosedError):
        return "The server closed the connection."
    if isinstance(exc, bx.ParamValidationError):
        return f"The request was not valid: {exc.kwargs.get('report', exc)}"
    if isinstance(exc, bx.InvalidRegionError):
        return f"'{exc.kwargs.get('region_name', '')}' is not a valid region name."
    if isinstance(exc, ValueError) and "Invalid endpoint" in str(exc):
        return f"{exc}. An endpoint URL looks like https://s3.example.com:9000."
    if isinstance(exc, bx.ClientError) and unsupported(exc):
        return unsupported_sentence(exc)
    if isinstance(exc, bx.ClientError):
        code = error_code(exc) or ""
        template = _CODE_SENTENCES.get(code)
        if template:
            return template.format(bucket=bucket, op=op)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = exc.response.get("Error", {}).get("Message") or code
        return f"The server refused the request ({status} {code}): {message}".rstrip(": ")
    if isinstance(exc, FileNotFoundError):
        return f"The file '{exc.filename}' does not exist."
    if isinstance(exc, PermissionError):
        return f"The file '{exc.filename}' cannot be read (permission denied)."
    if isinstance(exc, IsADirectoryError):
        return f"'{exc.filename}' is a folder, not a file."
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "The disk is full."
    if isinstance(exc, OSError):
        where = f" '{exc.filename}'" if exc.filename else ""
        return f"Reading{where} failed: {exc.strerror or exc}."
    return f"Unexpected error: {type(exc).__name__}: {exc}"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exceptions under a botocore network error: urllib3's, then the
    socket's (botocore keeps urllib3's in kwargs['error'])."""
    found: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(found) < 8:
        current = todo.pop()
        found.append(current)
        nested = [getattr(current, "kwargs", {}).get("error"), current.__cause__,
                  current.__context__, *getattr(current, "args", ())]
        todo.extend(n for n in nested if isinstance(n, BaseException) and n not in found)
    return found


def _host(exc: BaseException) -> str:
    url = str(getattr(exc, "kwargs", {}).get("endpoint_url") or "")
    netloc = urlsplit(url).netloc
    return netloc or "the endpoint"


def _why_unreachable(exc: bx.EndpointConnectionError) -> str:
    """': the connection was refused ...' — the cause a person can act on."""
    url = urlsplit(str(exc.kwargs.get("endpoint_url") or ""))
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return f": the host name '{url.hostname}' was not found (check its spelling, or DNS)"
        if isinstance(cause, ConnectionRefusedError):
            port = url.port or (443 if url.scheme == "https" else 80)
            return (f": the connection was refused (nothing is listening on port {port} "
                    f"of {url.hostname})")
        if isinstance(cause, OSError) and cause.strerror:
            return f": {cause.strerror.lower()}"
    return ""


def _tls_sentence(exc: BaseException) -> str:
    reason = " ".join(str(c) for c in _causes(exc))
    # The host name is matched by OpenSSL ("Hostname mismatch") or, for some
    # connections, by urllib3 ("hostname 'x' doesn't match ...").
    mismatch = re.search(r"certificate is not valid for '([^']+)'|hostname '([^']+)' "
                         r"doesn't match", reason)
    if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason \
            or mismatch:
        if "Hostname mismatch" in reason or mismatch:
            name = f" '{mismatch.group(1) or mismatch.group(2)}'" if mismatch else " this host name"
            return ("The server's TLS certificate could not be verified: it is not valid "
                    f"for{name}. Use the host name the certificate names.")
        if "expired" in reason:
            return ("The server's TLS certificate could not be verified: it has expired "
                    "(or this computer's clock is wrong).")
        why = re.search(r"certificate verify failed: ([^(]+?) \(", reason)
        detail = f" ({why.group(1)})" if why else ""
        return (f"The server's TLS certificate could not be verified{detail}. "
                "Set a CA bundle for this account if it uses a private CA.")
    if "WRONG_VERSION_NUMBER" in reason or "record layer failure" in reason \
            or "HTTP_REQUEST" in reason or "packet length too long" in reason:
        return ("The endpoint does not answer TLS on this port: if it is plain HTTP, "
                "the endpoint URL should begin with http://.")
    return "The secure (TLS) connection to the endpoint failed."
