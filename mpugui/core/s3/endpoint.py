"""Where a transfer talks to, and how to build a botocore client for it.

An Endpoint holds no secret: it is stored in the journal so a crashed upload
can be resumed against the same server. Secrets come from the standard AWS
chain (env, profiles, SSO) or, for an account with an access key, from keyring.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import botocore.session
from botocore.config import Config

from mpugui.core import secrets
from mpugui.core.errors import MpuguiError, is_stalled
from mpugui.core.s3.model_loader import loader_for
from mpugui.core.s3.stores import quirks_for


@dataclass(frozen=True)
class Endpoint:
    account: str = ""  # a saved account's name; "" uses the standard AWS chain
    profile: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    path_style: bool = False
    # Some S3-compatible stores reject botocore's default CRC32 on every
    # request; 'when_required' sends checksums only where S3 demands them.
    checksum_when_required: bool = False
    access_key_id: str | None = None
    ca_bundle: str | None = None
    verify_tls: bool = True
    # Some stores (Cloudflare R2) require every part but the last to be the
    # same size, so the final parts cannot shrink (see needs_equal_parts).
    equal_parts: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Endpoint:
        data = json.loads(text) if text else {}
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def with_(self, **changes: Any) -> Endpoint:
        return replace(self, **changes)

    def label(self) -> str:
        return self.account or self.profile or self.endpoint_url or "AWS (default credentials)"

    def needs_equal_parts(self) -> bool:
        """Whether uploads here must use parts of one size: said by the
        account, or known from the host (core/s3/stores.py: R2)."""
        return self.equal_parts or quirks_for(self.endpoint_url).equal_parts

    def checksum_compat(self) -> bool:
        """No checksum header the store did not ask for: said by the account
        (checksum_when_required), or known from the host (core/s3/stores.py: GCS)."""
        return self.checksum_when_required or quirks_for(self.endpoint_url).no_checksum_headers


def validate_endpoint_url(url: str | None) -> None:
    if not url:
        return
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise MpuguiError(
            f"'{url}' is not a valid endpoint URL; it should look like "
            "https://s3.example.com or http://127.0.0.1:9000."
        )
    try:
        _ = parsed.port
    except ValueError:
        raise MpuguiError(f"The port in the endpoint URL '{url}' is not a number.") from None


# botocore's own rule for a region name (it refuses others only when a
# request is made, as InvalidRegionError).
_REGION_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


def validate_region(region: str | None) -> None:
    if region and not _REGION_RE.match(region):
        raise MpuguiError(f"'{region}' is not a region name; it looks like eu-west-1.")


def validate_ca_bundle(path: str | None) -> None:
    """A PEM file, as botocore needs it; said before the first request
    would fail with a TLS error that names no file."""
    if not path:
        return
    file = Path(path).expanduser()
    if not file.is_file():
        raise MpuguiError(f"The CA bundle '{path}' is not a file.")
    try:
        with file.open("rb") as f:
            pem = b"-----BEGIN CERTIFICATE-----" in f.read(64 * 1024 * 1024)
    except OSError as exc:
        raise MpuguiError(f"The CA bundle '{path}' cannot be read: {exc.strerror}.") from None
    if not pem:
        raise MpuguiError(f"The CA bundle '{path}' holds no PEM certificate "
                          "(-----BEGIN CERTIFICATE-----).")


_loader_lock = threading.Lock()
_shared_loader: Any = None


def new_session(aws_access_key_id: str | None = None, aws_secret_access_key: str | None = None,
                region_name: str | None = None,
                profile_name: str | None = None) -> botocore.session.Session:
    """A botocore session whose data loader is shared process-wide.

    Each fresh session would parse the S3 model and endpoint rules again
    (~70 ms of JSON, holding the GIL: a visible stall of the window whenever
    a client is made for another account). Shared, they are parsed once.
    botocore's own session, not boto3's: every command would otherwise import
    boto3 and s3transfer (~70 ms of start-up) for clients botocore makes.
    """
    global _shared_loader
    core = botocore.session.Session(profile=profile_name)
    with _loader_lock:
        if _shared_loader is None:  # (a quicker one: core/s3/model_loader.py)
            _shared_loader = loader_for(core.get_config_variable("data_path"))
        core.register_component("data_loader", _shared_loader)
    if aws_access_key_id or aws_secret_access_key:
        core.set_credentials(aws_access_key_id or "", aws_secret_access_key or "")
    if region_name:
        core.set_config_variable("region", region_name)
    return core


def warm_up() -> None:
    """Parse the S3 model now (at start-up) rather than at the first upload."""
    new_session(region_name="us-east-1").create_client(
        "s3", endpoint_url="http://127.0.0.1:9", aws_access_key_id="x",
        aws_secret_access_key="x")


def make_session(endpoint: Endpoint) -> botocore.session.Session:
    if endpoint.access_key_id:
        secret = secrets.get_secret(endpoint.account or endpoint.access_key_id)
        if secret is None:
            raise MpuguiError(
                f"The secret key of account '{endpoint.label()}' is not in the keyring. "
                "Edit the account and enter it again."
            )
        return new_session(
            aws_access_key_id=endpoint.access_key_id,
            aws_secret_access_key=secret,
            region_name=endpoint.region,
        )
    return new_session(profile_name=endpoint.profile, region_name=endpoint.region)


CONNECT_TIMEOUT = 10.0
PROBE_TIMEOUT = 10.0  # seconds an outage probe may take to connect or answer
POOL_FLOOR = 64  # >= the engine's adaptive concurrency ceiling (core/transfer/adaptive.py MAXIMUM)


def client_config(endpoint: Endpoint, max_pool_connections: int = 10,
                  read_timeout: float = 60) -> Config:
    return Config(
        # urllib3 keeps up to this many idle connections and opens none ahead,
        # so a roomy pool costs nothing; too small a pool makes the adaptive
        # engine's extra parts queue for (or reopen) connections.
        max_pool_connections=max(POOL_FLOOR, max_pool_connections),
        retries={"mode": "standard", "max_attempts": 5},
        # Also how long a body send may make no progress (urllib3 sends with
        # the connect timeout): never longer than waiting for the answer.
        connect_timeout=min(CONNECT_TIMEOUT, read_timeout),
        read_timeout=read_timeout,
        tcp_keepalive=True,
        request_checksum_calculation=(
            "when_required" if endpoint.checksum_compat() else "when_supported"
        ),
        response_checksum_validation=(
            "when_required" if endpoint.checksum_compat() else "when_supported"
        ),
        s3={
            "addressing_style": "path" if endpoint.path_style else "auto",
            # Over plain HTTP SigV4 would SHA256 every payload byte; the part
            # checksum already protects the body, so skip the extra pass.
            "payload_signing_enabled": False,
        },
    )


# Bytes per socket write of a request body (urllib3: 16 KiB): also the largest
# chunk a part body hands over (core/transfer/body.py), so one number governs both.
SEND_BLOCK = 1024 * 1024


def _widen_send_blocks(client: Any) -> None:
    """Have urllib3 write bodies in SEND_BLOCK pieces rather than 16 KiB: a
    16 MiB part is then 16 trips through Python instead of 1,024, which costs
    CPU and, worse, takes the GIL from the GUI thread once per trip. Reaches
    into botocore's session (no public setting); if its shape changes, the
    default stays and only this saving is lost."""
    manager = getattr(getattr(getattr(client, "_endpoint", None), "http_session", None),
                      "_manager", None)
    pool_kw = getattr(manager, "connection_pool_kw", None)
    if isinstance(pool_kw, dict):
        pool_kw["blocksize"] = SEND_BLOCK


class RetryGate:
    """Decides, before botocore's own retry handler, which failed requests
    botocore must NOT retry itself (a `needs-retry` handler registered
    first; returning False ends botocore's attempts, None lets it decide):

    - a request that stalled for a whole timeout (errors.is_stalled): five
      attempts on a frozen link would each wait the timeout again and send
      the part again (minutes, and the file several times over); the engine
      opens the endpoint's outage at once and one small probe asks instead;
    - any failure to get an answer while the endpoint's outage is open (`is_down`):
      the probe decides when requests go out again, not each part's retries.

    Answers from the server (5xx, SlowDown) keep botocore's retries."""

    def __init__(self, endpoint: Endpoint, is_down: Callable[[Endpoint], bool]) -> None:
        self._endpoint = endpoint
        self._is_down = is_down
        self.vetoed = 0  # attempts not made (tests, the log)

    def __call__(self, caught_exception: BaseException | None = None, attempts: int = 1,
                 **_: Any) -> bool | None:
        if caught_exception is None:
            return None
        if is_stalled(caught_exception) or self._is_down(self._endpoint):
            self.vetoed += 1
            # An exception carries no RetryAttempts: say how many botocore
            # made (earlier ones may have met a 503), for the retry count.
            caught_exception.mpugui_retries = attempts - 1  # type: ignore[attr-defined]
            return False
        return None


def _never_down(_endpoint: Endpoint) -> bool:
    return False


class ClientFactory:
    """Builds and caches one thread-safe botocore client per endpoint."""

    def __init__(self, max_pool_connections: int = 16, read_timeout: float = 60) -> None:
        # The engine points this at its outages: whether an endpoint is down.
        self.is_down: Callable[[Endpoint], bool] = _never_down
        self.gates: dict[Endpoint, RetryGate] = {}
        self._pool = max_pool_connections
        self._read_timeout = read_timeout  # tests shorten it to provoke timeouts
        self._lock = threading.Lock()
        self._clients: dict[Endpoint, Any] = {}
        self._credentials: dict[Endpoint, Any] = {}
        self._probes: dict[Endpoint, Any] = {}

    def client(self, endpoint: Endpoint) -> Any:
        with self._lock:
            cached = self._clients.get(endpoint)
            if cached is not None:
                return cached
            validate_endpoint_url(endpoint.endpoint_url)
            session = make_session(endpoint)
            verify: bool | str = endpoint.ca_bundle or endpoint.verify_tls
            client = session.create_client(
                "s3",
                endpoint_url=endpoint.endpoint_url or None,
                config=client_config(endpoint, self._pool, self._read_timeout),
                verify=None if verify is True else verify,
            )
            _widen_send_blocks(client)
            gate = self.gates[endpoint] = RetryGate(endpoint, lambda e: self.is_down(e))
            # (botocore's stubs type handlers as returning None; needs-retry
            # handlers return a delay or False, as botocore's own does)
            client.meta.events.register_first("needs-retry.s3", gate,  # type: ignore[arg-type]
                                              unique_id="mpugui-retry-gate")
            self._clients[endpoint] = client
            self._credentials[endpoint] = session.get_credentials()
            return client

    def credentials(self, endpoint: Endpoint) -> Any:
        """The frozen credentials the endpoint's client signs with now (a
        refreshing source refreshes here), or None when there are none."""
        self.client(endpoint)
        with self._lock:
            creds = self._credentials.get(endpoint)
        return creds.get_frozen_credentials() if creds is not None else None

    def probe_client(self, endpoint: Endpoint) -> Any:
        """A client for outage probes: one attempt, short timeouts (the probe
        schedule is the retry policy), same credentials and TLS settings."""
        with self._lock:
            cached = self._probes.get(endpoint)
        if cached is not None:
            return cached
        validate_endpoint_url(endpoint.endpoint_url)
        verify: bool | str = endpoint.ca_bundle or endpoint.verify_tls
        config = client_config(endpoint, 2, min(self._read_timeout, PROBE_TIMEOUT)).merge(
            Config(retries={"mode": "standard", "total_max_attempts": 1},
                   connect_timeout=PROBE_TIMEOUT))
        client = make_session(endpoint).create_client(
            "s3", endpoint_url=endpoint.endpoint_url or None, config=config,
            verify=None if verify is True else verify)
        with self._lock:
            return self._probes.setdefault(endpoint, client)

    @property
    def read_timeout(self) -> float:
        return self._read_timeout

    def forget(self, endpoint: Endpoint) -> None:
        with self._lock:
            self._clients.pop(endpoint, None)
            self._probes.pop(endpoint, None)
