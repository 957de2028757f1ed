"""Credentials that expire during an outage are refreshed on the next
attempt. A real credential_process (a script in a temporary AWS config) hands
out credentials that expire after LIFETIME seconds, each with a new key; the
fault proxy checks every request's signing key against what the script
handed out and answers 400 ExpiredToken past its expiry, as S3 would (moto
accepts any key, so the check stands in for the store's). botocore's own
RefreshableCredentials refreshes them: only its refresh windows (15 and 10
minutes before expiry) are shortened so that a lifetime can be seconds."""

from __future__ import annotations

import functools
import json
import re
import sys
import time
from pathlib import Path

import pytest
from botocore.credentials import RefreshableCredentials

from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.states import DONE, FAILED, WAITING
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from tests.conftest import make_file
from tests.faultproxy import Fault, FaultProxy, Request
from tests.functional.test_outage import FAST_PROBES, READ_TIMEOUT, states

LIFETIME = 4.0  # seconds each set of credentials is valid

SCRIPT = '''
import datetime, json, sys, time
ledger = sys.argv[1]
with open(ledger, "a+") as f:
    f.seek(0)
    n = len(f.readlines()) + 1
    expires = time.time() + {lifetime}
    f.write(json.dumps({{"key": "AKIDGEN%04d" % n, "token": "token%d" % n,
                        "expires": expires}}) + "\\n")
out = {{"Version": 1, "AccessKeyId": "AKIDGEN%04d" % n,
       "SecretAccessKey": "secret%d" % n, "SessionToken": "token%d" % n}}
if {says_when}:  # without Expiration botocore never asks again
    out["Expiration"] = datetime.datetime.fromtimestamp(
        expires, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps(out))
'''

_KEY = re.compile(r"Credential=([^/]+)/")


def issued(ledger: Path) -> dict[str, dict]:
    if not ledger.exists():
        return {}
    return {e["key"]: e for e in map(json.loads, ledger.read_text().splitlines())}


@pytest.fixture(params=[True, False], ids=["refreshable", "expiry-unsaid"])
def expiring_profile(request, tmp_path: Path, monkeypatch) -> Path:
    """A profile whose credential_process hands out expiring credentials
    (saying when they expire, or not: then botocore cannot know to refresh);
    returns the ledger of what it handed out."""
    ledger = tmp_path / "issued.jsonl"
    script = tmp_path / "creds.py"
    script.write_text(SCRIPT.format(lifetime=LIFETIME, says_when=request.param))
    config = tmp_path / "aws-config"
    config.write_text("[profile expiring]\n"
                      f"credential_process = {sys.executable} {script} {ledger}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # Refresh when less than 2 s are left (advisory) or 1 s (mandatory),
    # instead of 15 and 10 minutes: only so the lifetime can be seconds.
    monkeypatch.setattr(RefreshableCredentials, "_advisory_refresh_timeout", 2.0)
    monkeypatch.setattr(RefreshableCredentials, "_mandatory_refresh_timeout", 1.0)
    return ledger


def test_credentials_expiring_during_an_outage_are_refreshed_and_the_upload_resumes(
        qtbot, engine_factory, moto_url, s3, bucket, expiring_profile: Path,
        tmp_path: Path, request) -> None:
    refreshable = request.node.callspec.params["expiring_profile"]
    # (s3 and bucket first: the test's own client signs with the environment's keys)
    ledger = expiring_profile
    big = make_file(tmp_path / "big.bin", 16 * MiB + 1, seed=41)
    small = make_file(tmp_path / "small.bin", 900, seed=42)
    signed_with: list[tuple[str, bool]] = []  # (key, valid when it arrived)

    def authorize(req: Request) -> bool:
        m = _KEY.search(req.headers.get("authorization", ""))
        entry = issued(ledger).get(m.group(1)) if m else None
        ok = entry is not None and time.time() < entry["expires"] and \
            req.headers.get("x-amz-security-token") == entry["token"]
        signed_with.append((m.group(1) if m else "", ok))
        return ok

    with FaultProxy(moto_url) as proxy:
        proxy.authorize = authorize
        held = proxy.add(Fault("UploadPart", "hold", phase="before", part=2))
        engine = functools.partial(engine_factory, read_timeout=READ_TIMEOUT, **FAST_PROBES)()
        ep = Endpoint(endpoint_url=proxy.url, region="us-east-1", profile="expiring")
        tid = engine.add(UploadRequest(str(big), bucket, "big.bin", ep))
        qtbot.waitUntil(held.held.is_set, timeout=30000)
        proxy.refuse()  # the network goes ...
        held.release.set()
        qtbot.waitUntil(lambda: states(engine)[tid] == WAITING, timeout=30000)
        first = set(issued(ledger))
        assert first  # what the upload had signed with before the outage
        # ... for longer than those credentials live (a wait for the clock,
        # not a timed assertion: probes keep failing meanwhile).
        expiry = max(e["expires"] for e in issued(ledger).values())
        qtbot.waitUntil(lambda: time.time() > expiry + 0.5, timeout=int(LIFETIME * 4000))
        assert states(engine)[tid] == WAITING
        seen_before = len(signed_with)
        proxy.accept()
        small_id = engine.add(UploadRequest(str(small), bucket, "small.bin", ep))
        qtbot.waitUntil(lambda: {states(engine)[i] for i in (tid, small_id)} <= {DONE, FAILED}
                        and not engine.busy(), timeout=60000)
        engine.shutdown()
    if not refreshable:
        # The check bites: credentials that cannot be refreshed fail the
        # transfer with the sentence saying to sign in again; nothing waits.
        assert proxy.rejected
        for i in (tid, small_id):
            assert states(engine)[i] == FAILED
            assert "session token has expired" in engine.current_snapshot().by_id(i).detail
        return
    for i in (tid, small_id):
        assert states(engine)[i] == DONE, engine.current_snapshot().by_id(i).detail
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == big.read_bytes()
    assert s3.get_object(Bucket=bucket, Key="small.bin")["Body"].read() == small.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    after = signed_with[seen_before:]
    # Every request after the outage was signed with credentials handed out
    # later and valid when sent: botocore ran the credential_process again.
    assert after and all(ok for _key, ok in after) and proxy.rejected == []
    assert not {key for key, _ in after} & first
