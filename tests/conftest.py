"""Shared fixtures: a real moto S3 server on 127.0.0.1, an isolated
MPUGUI_HOME, an in-memory keyring, and engines that are shut down after
each test with no worker thread left behind (tests/leaks.py checks every
test for leftover threads, pool tasks and timers)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import keyring
import pytest
from keyring.backend import KeyringBackend
from moto.server import ThreadedMotoServer

from mpugui.core.accounts import Account, AccountStore
from mpugui.core.journal.store import Journal
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.units import MiB
from tests import s3rver
from tests.s3rver import S3rver

# leaks: the autouse leak guard; pytester: tests/unit/test_leaks.py runs it on
# deliberately leaking tests.
pytest_plugins = ["tests.leaks", "pytester"]


class MemoryKeyring(KeyringBackend):
    """A real keyring backend kept in memory: tests never touch the user's."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    home = tmp_path / "mpugui-home"
    monkeypatch.setenv("MPUGUI_HOME", str(home))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def s3(moto_url: str):
    return boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")


@pytest.fixture
def bucket(s3) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def endpoint(moto_url: str) -> Endpoint:
    return Endpoint(endpoint_url=moto_url, region="us-east-1")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "mpugui-home" / "journal.sqlite3")
    yield j
    j.close()


def make_file(path: Path, size: int, seed: int = 0) -> Path:
    """A file of `size` pseudo-random bytes (distinct per seed)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, MiB)
            f.write(rng.randbytes(n))
            left -= n
    return path


@pytest.fixture
def engine_factory(qtbot, journal: Journal):
    """Engines with small parts (5 MiB) and fast backoff; each is shut down
    after the test and must leave no worker thread running."""
    from mpugui.engine.engine import EngineSettings, TransferEngine

    engines: list[TransferEngine] = []

    def make(read_timeout: float = 60, **overrides) -> TransferEngine:
        settings = EngineSettings(part_size=5 * MiB, threshold=5 * MiB, concurrency=4,
                                  retry_base=0.05, tick_ms=50)
        for k, v in overrides.items():
            setattr(settings, k, v)
        clients = ClientFactory(settings.concurrency + 4, read_timeout=read_timeout)
        eng = TransferEngine(journal, clients, settings)
        engines.append(eng)
        return eng

    yield make
    for eng in engines:
        # False when a worker or the small files' loop still runs after it.
        assert eng.shutdown(), "an engine worker still runs after shutdown()"


MOTO_ACCOUNT = "Local moto"  # the account the `store` fixture holds


@pytest.fixture
def runner(qtbot):
    """The GUI's task pool; shut down after the test with no worker left."""
    from mpugui.engine.tasks import TaskRunner

    r = TaskRunner()
    yield r
    assert r.shutdown(), "a pool task still runs after shutdown()"


@pytest.fixture
def store(moto_url: str) -> AccountStore:
    """An account store holding MOTO_ACCOUNT, an account for the moto server
    (test_accounts overrides it with an empty store)."""
    s = AccountStore()
    s.save(Account(MOTO_ACCOUNT, endpoint_url=moto_url, region="us-east-1", path_style=True))
    return s


@pytest.fixture(scope="session")
def s3rver_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3rver]:
    """s3rver (tests/s3rver.py) on 127.0.0.1 for the whole session."""
    server = S3rver(tmp_path_factory.mktemp("s3rver-data")).start()
    yield server
    server.stop()


@pytest.fixture
def s3rver_env(s3rver_server: S3rver, monkeypatch: pytest.MonkeyPatch) -> S3rver:
    """s3rver's own key in the environment (for the engine and the CLI)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3rver.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3rver.SECRET_KEY)
    return s3rver_server
