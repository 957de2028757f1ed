"""Secret keys live in the system keyring and nowhere else.

When no keyring backend exists (common on headless Linux) a secret can be kept
in memory for this session only; callers ask `keyring_available()` first and
tell the user.

keyring is imported on first use: its backend discovery costs ~0.1 s, which a
CLI upload with credentials from the environment never needs.
"""

from __future__ import annotations

import threading

from mpugui.core import redact

SERVICE = "mpugui"
_session_only: dict[str, str] = {}
_lock = threading.Lock()


def keyring_available() -> bool:
    """Whether a keyring will keep what it is given. The null backend
    (PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring, how headless
    set-ups turn keyring off) accepts a secret and keeps nothing: as none."""
    import keyring
    from keyring.backends.fail import Keyring as FailKeyring
    from keyring.backends.null import Keyring as NullKeyring

    return not isinstance(keyring.get_keyring(), (FailKeyring, NullKeyring))


def set_secret(name: str, secret: str, *, session_only: bool = False) -> None:
    redact.remember(secret)  # masked in every log line from now on
    if session_only:
        with _lock:
            _session_only[name] = secret
        return
    import keyring
    from keyring.errors import NoKeyringError

    try:
        keyring.set_password(SERVICE, name, secret)
    except NoKeyringError as exc:
        raise KeyringUnavailable() from exc


def get_secret(name: str) -> str | None:
    with _lock:
        if name in _session_only:
            return _session_only[name]
    import keyring
    from keyring.errors import KeyringError

    try:
        secret = keyring.get_password(SERVICE, name)
    except KeyringError:
        return None
    redact.remember(secret)  # masked in every log line from now on
    return secret


def delete_secret(name: str) -> None:
    with _lock:
        _session_only.pop(name, None)
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.delete_password(SERVICE, name)
    except KeyringError:
        pass


class KeyringUnavailable(Exception):
    def __str__(self) -> str:
        return ("No system keyring is available to store the secret key. "
                "It can be kept for this session only.")
