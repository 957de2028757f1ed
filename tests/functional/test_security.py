"""Security: secrets only in keyring, logs redacted, TLS verified by default
(with custom CA bundles, and verification off only explicitly and with a
warning), servers on 127.0.0.1 only, state files private (0600)."""

from __future__ import annotations

import argparse
import io
import logging
import os
import re
import socket
import ssl
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import SSLError

from mpugui.cli import main as cli
from mpugui.core import paths, redact
from mpugui.core.accounts import KEYS, Account, AccountStore
from mpugui.core.errors import describe
from mpugui.core.s3 import endpoint as endpoint_mod
from mpugui.core.s3 import sender_spawn
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.units import MiB
from tests import tlscerts
from tests.clirun import run_cli
from tests.conftest import make_file
from tests.faultproxy import FaultProxy

PACKAGE = Path(cli.__file__).resolve().parents[1]  # mpugui/


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI, run in this process, installs its handlers and levels; and
    redaction wraps the record factory: put everything back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    factory = logging.getLogRecordFactory()
    levels = {n: logging.getLogger(n).level for n in ("botocore", "boto3", "urllib3",
                                                       "s3transfer", "werkzeug", "mpugui")}
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)
    logging.setLogRecordFactory(factory)
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)


def all_bytes_under(*roots: Path) -> Iterator[tuple[Path, bytes]]:
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file():
                yield p, p.read_bytes()


# -- secrets ---------------------------------------------------------------------------

def test_secret_lives_only_in_keyring(qapp, isolated_env, moto_url, bucket, s3, tmp_path,
                                      monkeypatch, restore_logging, caplog) -> None:
    secret = f"mpugui-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    AccountStore().save(Account("work", kind=KEYS, access_key_id="AKIDSECURITYTEST",
                                endpoint_url=moto_url, region="us-east-1"), secret)
    assert isolated_env.store[("mpugui", "work")] == secret
    big = make_file(tmp_path / "src" / "big.bin", 12 * MiB + 1, seed=1)
    make_file(tmp_path / "src" / "small.bin", 1000, seed=2)
    caplog.set_level(logging.DEBUG)
    # The real CLI, in this process so it reads the test's keyring; verbose
    # logging, with botocore's DEBUG (signed requests) let through as well.
    assert cli.main(["-v", "upload", str(tmp_path / "src"), f"s3://{bucket}/sec/",
                     "--account", "work", "--part-size", "5MiB", "--json"]) == 0
    assert cli.main(["-v", "transfers", "--json"]) == 0
    assert cli.main(["-v", "uploads", "list", f"s3://{bucket}", "--account", "work"]) in (0, 1)
    from mpugui.ui.common import settings as ui_settings  # the window's settings store

    store = ui_settings.open_settings()
    store.setValue("window/probe", "x")
    store.sync()
    assert s3.get_object(Bucket=bucket, Key="sec/big.bin")["Body"].read() == big.read_bytes()

    home = paths.state_dir()
    scanned = list(all_bytes_under(home, tmp_path / "xdg-config"))
    assert any(p.name == "journal.sqlite3" for p, _ in scanned)
    assert any(p.name == "accounts.json" for p, _ in scanned)
    for p, data in scanned:
        assert secret.encode() not in data, p
    assert secret not in caplog.text
    assert "AKIDSECURITYTEST" in (home / "accounts.json").read_text()  # the ID is not secret


def test_one_child_process_and_no_secret_option() -> None:
    """The app starts one kind of child process, the small-file sender
    (started by core/s3/sender_spawn.py, tested below for what it is given); and no option
    takes a secret on the command line (argv is visible to every user of the
    machine). A new child process must come with its own test of what it is
    given."""
    spawners = re.compile(r"\b(subprocess|os\.system|os\.exec\w*|os\.spawn\w*|os\.popen|"
                          r"QProcess|multiprocessing|pty\.spawn)\b")
    found = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             for line in p.read_text(encoding="utf-8").splitlines()
             if spawners.search(line) and not line.lstrip().startswith("#")}
    assert found == {"core/s3/sender_spawn.py"}
    options = " ".join(a for action in _all_actions(cli.build_parser())
                       for a in action.option_strings)
    assert not re.search(r"secret|password|token", options, re.I), options


def test_the_sender_process_is_given_no_secret(qapp, isolated_env, moto_url, bucket, s3,
                                               tmp_path, monkeypatch,
                                               restore_logging) -> None:
    """Its credentials go over its pipe: neither the argv nor the environment
    it is started with (both readable by other users through /proc) holds
    the secret."""
    secret = f"mpugui-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    AccountStore().save(Account("work", kind=KEYS, access_key_id="AKIDSECURITYTEST",
                                endpoint_url=moto_url, region="us-east-1"), secret)
    for i in range(20):
        make_file(tmp_path / "src" / f"f{i}.bin", 1000 + i, seed=i)
    spawned: list[str] = []
    real_popen = sender_spawn.subprocess.Popen

    def spy(args, **kwargs):
        env = kwargs.get("env")
        given = os.environ if env is None else env  # None: it inherits ours
        spawned.append(repr(list(args)) + repr(sorted(given.items())))
        return real_popen(args, **kwargs)

    monkeypatch.setattr(sender_spawn.subprocess, "Popen", spy)
    assert cli.main(["upload", str(tmp_path / "src"), f"s3://{bucket}/snd/",
                     "--account", "work"]) == 0
    assert len(spawned) == 1 and "sender_child" in spawned[0]
    assert secret not in spawned[0] and "AKIDSECURITYTEST" not in spawned[0]
    for i in range(20):  # sent (by it, or here while it started) signed with the secret
        assert s3.get_object(Bucket=bucket, Key=f"snd/f{i}.bin")["ContentLength"] == 1000 + i


def _all_actions(parser):
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_actions(sub)


# -- log redaction ------------------------------------------------------------------

SAMPLES = [
    "headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/"
    "s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6"
    "789a8edb4c82c400e06b5924a6f2b5d7', 'X-Amz-Security-Token': b'FQoGZXIvYXdzEXAMPLETOKEN'}",
    "Authorization: AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
    "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE"
    "%2F20261127&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLETOKEN&X-Amz-Signature=aa11bb22cc33",
    "x-amz-security-token:FQoGZXIvYXdzEXAMPLETOKEN\nhost:127.0.0.1",
    "config: aws_secret_access_key=wJalrXUtnFEMIEXAMPLEKEY region=us-east-1",
    "{'SecretAccessKey': 'wJalrXUtnFEMIEXAMPLEKEY', 'SessionToken': 'FQoGZXIvYXdzEXAMPLETOKEN'}",
]


@pytest.mark.parametrize("line", SAMPLES)
def test_redact_patterns(line: str) -> None:
    clean = redact.redact(line)
    for secret in ("5d672d79c15b", "frJIUN8DYpKD", "FQoGZXIvYXdzEXAMPLETOKEN",
                   "wJalrXUtnFEMIEXAMPLEKEY", "aa11bb22cc33", "AKIDEXAMPLE%2F"):
        assert secret not in clean, clean
    assert redact.MASK in clean


def test_logs_of_real_signed_requests_are_redacted(moto_url, bucket, monkeypatch,
                                                   restore_logging) -> None:
    secret, token = f"sk-{uuid.uuid4().hex}", f"tok-{uuid.uuid4().hex}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    redact.install()
    assert redact.installed()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("botocore").setLevel(logging.DEBUG)
    try:
        client = boto3.session.Session().client("s3", endpoint_url=moto_url,
                                                region_name="us-east-1")
        client.put_object(Bucket=bucket, Key="k", Body=b"data")
        url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
        logging.getLogger("mpugui.test").info("presigned %s", url)
        try:
            raise ValueError(f"bad credentials {secret}")
        except ValueError:
            logging.getLogger("mpugui.test").exception("failed with %s", token)
    finally:
        root.removeHandler(handler)
    text = out.getvalue()
    assert "'Authorization': b'<redacted>'" in text  # the lines are there...
    assert re.search(r"presigned http\S+&Signature=<redacted>", text)
    assert secret not in text and token not in text  # ...without the secrets
    assert not re.search(r"Signature=(?!<redacted>)", text)


def test_cli_logging_redacts(qapp, restore_logging) -> None:
    assert cli.main(["transfers"]) == 0
    assert redact.installed(), "the CLI's logging setup must call redact.install()"


# -- TLS ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (a private CA, in effect)."""
    return tlscerts.self_signed(tmp_path_factory.mktemp("tls"), "mpugui test CA")


@pytest.fixture
def tls_proxy(moto_url, cert) -> Iterator[FaultProxy]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*map(str, cert))
    with FaultProxy(moto_url, tls=ctx) as p:
        yield p


@pytest.fixture
def one_attempt(monkeypatch) -> None:
    # One attempt instead of botocore's retries, only so a refused handshake
    # fails at once; verification itself is botocore's, unchanged.
    real = endpoint_mod.client_config
    monkeypatch.setattr(endpoint_mod, "client_config", lambda *a, **k: real(*a, **k).merge(
        endpoint_mod.Config(retries={"mode": "standard", "total_max_attempts": 1})))


def test_tls_verified_by_default(tls_proxy, bucket, one_attempt) -> None:
    client = ClientFactory().client(Endpoint(endpoint_url=tls_proxy.url, region="us-east-1"))
    with pytest.raises(SSLError) as caught:
        client.head_bucket(Bucket=bucket)
    assert describe(caught.value) == (
        "The server's TLS certificate could not be verified (self-signed certificate). "
        "Set a CA bundle for this account if it uses a private CA.")


def test_custom_ca_bundle_per_account_and_from_env(tls_proxy, bucket, cert, monkeypatch,
                                                   one_attempt) -> None:
    per_account = Endpoint(endpoint_url=tls_proxy.url, region="us-east-1",
                           ca_bundle=str(cert[0]))
    ClientFactory().client(per_account).head_bucket(Bucket=bucket)
    acct = Account("private-ca", endpoint_url=tls_proxy.url, region="us-east-1",
                   ca_bundle=str(cert[0]))
    ClientFactory().client(acct.endpoint()).head_bucket(Bucket=bucket)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert[0]))
    ClientFactory().client(Endpoint(endpoint_url=tls_proxy.url, region="us-east-1")) \
        .head_bucket(Bucket=bucket)
    assert tls_proxy.count("HeadBucket") == 3


def test_verification_off_is_explicit_and_warned(tls_proxy, bucket, tmp_path, s3) -> None:
    f = make_file(tmp_path / "f.bin", 100, seed=3)
    done = run_cli("upload", str(f), f"s3://{bucket}/k2", "--endpoint-url", tls_proxy.url,
                   "--no-verify-ssl")
    assert done.returncode == 0, done.stderr
    assert "warning: TLS certificates will not be verified." in done.stderr
    # Per account: off only when the account says so, and then warned about too.
    AccountStore().save(Account("insecure", endpoint_url=tls_proxy.url, region="us-east-1",
                                verify_tls=False))
    done = run_cli("upload", str(f), f"s3://{bucket}/k3", "--account", "insecure")
    assert done.returncode == 0, done.stderr
    assert "warning: TLS certificates will not be verified" in done.stderr
    assert s3.get_object(Bucket=bucket, Key="k3")["Body"].read() == f.read_bytes()
    assert Account("default").verify_tls and Endpoint().verify_tls


# -- listening sockets and file modes -----------------------------------------------------

def _non_loopback_ip() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent; picks the outgoing interface
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def test_servers_bind_loopback_only(moto_url) -> None:
    from mpugui.core.sandbox import start_sandbox

    box = start_sandbox()
    try:
        proxy = FaultProxy(moto_url).start()
        try:
            other = _non_loopback_ip()
            for url in (box.endpoint_url, proxy.url, moto_url):
                host, port = url.split("//")[1].rsplit(":", 1)
                assert host == "127.0.0.1", url
                assert _reachable("127.0.0.1", int(port))
                if other:
                    assert not _reachable(other, int(port)), url
        finally:
            proxy.stop()
    finally:
        box.stop()
    sources = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    assert "0.0.0.0" not in sources and "'::'" not in sources


def test_state_files_are_private(qapp, moto_url, bucket, tmp_path, restore_logging) -> None:
    f = make_file(tmp_path / "f.bin", 6 * MiB, seed=4)
    AccountStore().save(Account("acct", kind=KEYS, access_key_id="AKID", endpoint_url=moto_url,
                                region="us-east-1"), "secret-value")
    assert cli.main(["upload", str(f), f"s3://{bucket}/k", "--account", "acct"]) == 0
    from mpugui.ui.common import settings as ui_settings

    store = ui_settings.open_settings()
    store.setValue("window/probe", "x")
    store.sync()
    home = paths.state_dir()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    names = {p.name: stat.S_IMODE(p.stat().st_mode) for p in home.iterdir() if p.is_file()}
    for expected in ("journal.sqlite3", "accounts.json", "mpugui.ini", "mpugui.log"):
        assert expected in names, names
    assert {n: m for n, m in names.items() if m != 0o600} == {}
