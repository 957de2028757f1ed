"""Saved accounts: where to connect and which credentials to use.

accounts.json (mode 0600, under the state dir) holds names, endpoints and
access key IDs; the secret key of an access-key account is in keyring only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from mpugui.core import secrets
from mpugui.core.errors import MpuguiError
from mpugui.core.paths import private_file, state_dir
from mpugui.core.s3.endpoint import Endpoint

PROFILE, KEYS = "profile", "keys"


@dataclass
class Account:
    name: str
    kind: str = PROFILE  # PROFILE: the AWS chain/profile; KEYS: access key + keyring secret
    profile: str | None = None
    access_key_id: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    path_style: bool = False
    checksum_when_required: bool = False
    ca_bundle: str | None = None
    verify_tls: bool = True
    equal_parts: bool = False

    def endpoint(self) -> Endpoint:
        return Endpoint(
            account=self.name,
            profile=self.profile if self.kind == PROFILE else None,
            endpoint_url=self.endpoint_url or None, region=self.region or None,
            path_style=self.path_style, checksum_when_required=self.checksum_when_required,
            access_key_id=self.access_key_id if self.kind == KEYS else None,
            ca_bundle=self.ca_bundle or None, verify_tls=self.verify_tls,
            equal_parts=self.equal_parts)


class AccountStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "accounts.json"

    def load(self) -> list[Account]:
        if not self.path.exists():
            return []
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8") or "[]")
        except (OSError, ValueError) as exc:
            raise MpuguiError(f"The account list {self.path} cannot be read: {exc}.") from exc
        names = {f.name for f in fields(Account)}
        return [Account(**{k: v for k, v in item.items() if k in names}) for item in raw]

    def get(self, name: str) -> Account:
        for account in self.load():
            if account.name == name:
                return account
        raise MpuguiError(f"There is no saved account named '{name}'.")

    def save(self, account: Account, secret: str | None = None,
             session_only: bool = False) -> None:
        """Add or replace an account; a given secret goes to keyring."""
        if not account.name.strip():
            raise MpuguiError("An account needs a name.")
        if secret is not None:
            secrets.set_secret(account.name, secret, session_only=session_only)
        accounts = [a for a in self.load() if a.name != account.name] + [account]
        self._write(accounts)

    def delete(self, name: str) -> None:
        self._write([a for a in self.load() if a.name != name])
        secrets.delete_secret(name)

    def _write(self, accounts: list[Account]) -> None:
        private_file(self.path)
        tmp = self.path.with_suffix(".tmp")
        private_file(tmp)
        tmp.write_text(json.dumps([asdict(a) for a in accounts], indent=2), encoding="utf-8")
        os.replace(tmp, self.path)
