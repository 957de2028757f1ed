"""The AWS profiles a person already has, read from the AWS config and
credentials files (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE honoured).

botocore does the parsing, so SSO profiles (`sso_session` or the legacy
`sso_start_url`), role profiles and credential-file profiles all appear as
boto3 itself sees them. Only non-secret facts leave this module: key values
in the credentials file are never copied into a Profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import botocore.session
from botocore.exceptions import BotoCoreError

SSO, KEYS, ROLE, PROCESS, WEB_IDENTITY, CONFIG = (
    "sso", "keys", "role", "process", "web-identity", "config")


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str  # one of SSO, KEYS, ROLE, PROCESS, WEB_IDENTITY, CONFIG
    region: str | None = None
    endpoint_url: str | None = None
    detail: str = ""  # a short, secret-free description for a list

    @property
    def label(self) -> str:
        return f"{self.name} — {self.detail}" if self.detail else self.name


@dataclass
class ProfileList:
    profiles: list[Profile]
    problem: str | None = None  # a sentence when the files cannot be read


def _describe(name: str, section: dict, sso_sessions: dict) -> Profile:
    region = section.get("region") or None
    endpoint_url = section.get("endpoint_url") or None
    if "sso_session" in section or "sso_start_url" in section:
        session = section.get("sso_session")
        start = section.get("sso_start_url") or sso_sessions.get(session or "", {}).get(
            "sso_start_url", "")
        bits = [f"session {session}" if session else start,
                f"account {section.get('sso_account_id', '?')}",
                f"role {section.get('sso_role_name', '?')}"]
        return Profile(name, SSO, region, endpoint_url,
                       "SSO (" + ", ".join(b for b in bits if b) + ")")
    if "role_arn" in section:
        return Profile(name, ROLE, region, endpoint_url, f"assumes {section['role_arn']}")
    if "credential_process" in section:
        return Profile(name, PROCESS, region, endpoint_url, "credential process")
    if "web_identity_token_file" in section:
        return Profile(name, WEB_IDENTITY, region, endpoint_url, "web identity")
    if "aws_access_key_id" in section:
        key_id = str(section["aws_access_key_id"])
        # The key ID is not secret, but a short form is enough to recognise it.
        shown = key_id[:4] + "…" + key_id[-4:] if len(key_id) > 10 else key_id
        return Profile(name, KEYS, region, endpoint_url, f"access key {shown}")
    return Profile(name, CONFIG, region, endpoint_url, "settings only")


def list_profiles() -> ProfileList:
    """Every profile boto3 would accept as profile_name, sorted with
    'default' first. A malformed file gives an empty list and a sentence."""
    try:
        session = botocore.session.Session()
        config = session.full_config
        names = list(session.available_profiles)
    except (BotoCoreError, OSError, ValueError) as exc:
        return ProfileList([], f"The AWS config files cannot be read: {exc}")
    sections = config.get("profiles", {})
    sso_sessions = config.get("sso_sessions", {})
    profiles = [_describe(n, sections.get(n, {}), sso_sessions) for n in names]
    profiles.sort(key=lambda p: (p.name != "default", p.name.lower()))
    return ProfileList(profiles)
