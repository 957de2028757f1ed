"""What the account form says, as an Account: the fields' values and the
checks that turn them into one, each refusal a sentence saying what to fix
(the endpoint URL, region and CA bundle with the CLI's words)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mpugui.core import secrets
from mpugui.core.accounts import KEYS, PROFILE, Account
from mpugui.core.errors import MpuguiError
from mpugui.core.s3.endpoint import validate_ca_bundle, validate_endpoint_url, validate_region


@dataclass(frozen=True)
class FormValues:
    """The form's fields as typed (text stripped)."""

    name: str
    kind: str  # KEYS or PROFILE
    profile: str | None  # None: the default credential chain
    access_key_id: str
    secret: str  # "" keeps the stored one
    session_only: bool  # "Keep the secret for this session only" is ticked
    endpoint_url: str
    region: str
    path_style: bool
    checksum_when_required: bool
    equal_parts: bool
    ca_bundle: str
    verify_tls: bool


def account_from(v: FormValues, *, old_name: str | None, name_taken: bool,
                 profile_known: bool, for_test: bool = False
                 ) -> tuple[Account, str | None, bool]:
    """(account, secret or None to keep the stored one, session_only), or
    MpuguiError. `old_name`: the saved account being edited; `name_taken`:
    another account has the name; `for_test`: for Test connection, which
    needs no name and keeps nothing."""
    if not v.name and not for_test:
        raise MpuguiError("Give the account a name.")
    if not for_test and v.name != old_name and name_taken:
        raise MpuguiError(f"There is already an account named '{v.name}'. "
                          "Choose another name.")
    keys = v.kind == KEYS
    profile = v.profile if not keys else None
    if profile and not profile_known:
        raise MpuguiError(f"The AWS profile '{profile}' is not in the AWS config files. "
                          "Choose another profile or reload the list.")
    key_id = v.access_key_id if keys else ""
    secret = (v.secret or None) if keys else None
    session_only = False
    if keys:
        if not key_id:
            raise MpuguiError("Enter the access key ID.")
        if re.search(r"\s", key_id):
            raise MpuguiError("The access key ID cannot contain spaces.")
        if secret is None and not (old_name and secrets.get_secret(old_name)):
            raise MpuguiError("Enter the secret key: none is stored for this account.")
        if secret is not None and not secrets.keyring_available():
            if not v.session_only and not for_test:
                raise MpuguiError(
                    "No system keyring is available, so the secret key cannot be stored. "
                    "Tick “Keep the secret for this session only”, or use an AWS profile.")
            session_only = True
    endpoint_url = v.endpoint_url.rstrip("/")
    validate_endpoint_url(endpoint_url or None)
    validate_region(v.region)
    ca = v.ca_bundle if v.verify_tls else ""
    validate_ca_bundle(ca)
    account = Account(
        name=v.name or "(testing)", kind=KEYS if keys else PROFILE, profile=profile,
        access_key_id=key_id or None, endpoint_url=endpoint_url or None,
        region=v.region or None, path_style=v.path_style,
        checksum_when_required=v.checksum_when_required, equal_parts=v.equal_parts,
        ca_bundle=str(Path(ca).expanduser()) if ca else None, verify_tls=v.verify_tls)
    return account, secret, session_only
