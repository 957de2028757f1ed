"""Keeping secrets out of the logs.

botocore's DEBUG lines carry signed headers (Authorization with its
Signature, X-Amz-Security-Token), presigned URLs carry X-Amz-Signature and
X-Amz-Credential, and an exception message may quote a secret key. `install()`
wraps the logging record factory, so every record of every logger is
scrubbed once, when it is made, whatever handler (file, terminal, the log
dock) later writes it. Secrets known by value (the keyring secret of an
account, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) are masked wherever they
appear.
"""

from __future__ import annotations

import logging
import os
import re
import threading

MASK = "<redacted>"

# Quote-aware value: up to the closing quote, or to whitespace/separator when bare.
_Q = r"""(?P<q>b?['"]?)"""
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # The whole Authorization value, in a dict repr, an HTTP dump or a canonical request.
    (re.compile(r"""(?P<k>['"]?authorization['"]?\s*[:=]\s*)""" + _Q + r"""(?P<v>[^'"\r\n]+)""",
                re.I), rf"\g<k>\g<q>{MASK}"),
    # SigV4 (hex) in headers, SigV2 (base64, URL-quoted) in presigned URLs.
    (re.compile(r"(?P<k>\bSignature=)[^&\s'\",]+", re.I), rf"\g<k>{MASK}"),
    (re.compile(r"(?P<k>X-Amz-Signature=)[^&\s'\"]+", re.I), rf"\g<k>{MASK}"),
    (re.compile(r"(?P<k>X-Amz-Credential=)[^&\s'\"]+", re.I), rf"\g<k>{MASK}"),
    (re.compile(r"""(?P<k>x-amz-security-token['"]?\s*[:=]\s*)""" + _Q
                + r"""(?P<v>[^'"&\s,}]+)""", re.I), rf"\g<k>\g<q>{MASK}"),
    (re.compile(r"(?P<k>X-Amz-Security-Token=)[^&\s'\"]+", re.I), rf"\g<k>{MASK}"),
    (re.compile(r"""(?P<k>(?:aws_)?(?:secret_access_key|secret_key|session_token|secretaccesskey"""
                r"""|sessiontoken|secret)['"]?\s*[:=]\s*)""" + _Q + r"""(?P<v>[^'"\s,}]+)""",
                re.I), rf"\g<k>\g<q>{MASK}"),
]

_known: set[str] = set()
_lock = threading.Lock()


def remember(secret: str | None) -> None:
    """Mask this exact value wherever it shows up in a log line."""
    if secret and len(secret) >= 4:
        with _lock:
            _known.add(secret)


def redact(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Format the record's message now, redacted (args are dropped so no
    handler formats the raw values again); tracebacks likewise."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it for logging to report
        return record
    clean = redact(message)
    if clean != message or record.args:
        record.msg, record.args = clean, None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactFilter(logging.Filter):
    """The same scrubbing as a handler filter, for handlers made elsewhere."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True


def install() -> None:
    """Scrub every log record from now on (idempotent). Call it first thing in
    each entry point (CLI, GUI), before any logger writes."""
    remember(os.environ.get("AWS_SECRET_ACCESS_KEY"))
    remember(os.environ.get("AWS_SESSION_TOKEN"))
    if installed():
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        return scrub(previous(*args, **kwargs))

    factory.mpugui_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def installed() -> bool:
    return bool(getattr(logging.getLogRecordFactory(), "mpugui_redacts", False))
