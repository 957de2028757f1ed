"""What unfinished uploads cost a month: a small dated price table per
storage class and region, with overrides for S3-compatible stores.

S3 bills the parts of an incomplete upload as stored bytes of the upload's
storage class. The table holds AWS's first-tier storage prices; it is an
estimate (no tiers, no minimum durations, no request charges) and it goes
stale, hence the date and the overrides.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mpugui.core.errors import MpuguiError
from mpugui.core.paths import private_file, state_dir
from mpugui.core.units import GiB

# Published on aws.amazon.com/s3/pricing (storage, first 50 TB/month),
# checked on this date. USD per GB-month (S3's GB is 2^30 bytes).
PRICES_AS_OF = "2025-04-10"
DEFAULT_REGION = "us-east-1"
STORAGE_CLASSES = ("STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
                   "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "EXPRESS_ONEZONE")


def _row(standard: float, ia: float, onezone: float, glacier_ir: float, glacier: float,
         deep: float, express: float | None = None) -> dict[str, float]:
    # INTELLIGENT_TIERING parts sit in its frequent-access tier: Standard's price.
    row = {"STANDARD": standard, "STANDARD_IA": ia, "ONEZONE_IA": onezone,
           "INTELLIGENT_TIERING": standard, "GLACIER_IR": glacier_ir, "GLACIER": glacier,
           "DEEP_ARCHIVE": deep}
    if express is not None:
        row["EXPRESS_ONEZONE"] = express
    return row


AWS_PRICES: dict[str, dict[str, float]] = {
    "us-east-1": _row(0.023, 0.0125, 0.01, 0.004, 0.0036, 0.00099, 0.11),
    "us-east-2": _row(0.023, 0.0125, 0.01, 0.004, 0.0036, 0.00099),
    "us-west-2": _row(0.023, 0.0125, 0.01, 0.004, 0.0036, 0.00099, 0.11),
    "us-west-1": _row(0.026, 0.0144, 0.0115, 0.005, 0.004, 0.002),
    "ca-central-1": _row(0.025, 0.0138, 0.011, 0.0045, 0.004, 0.0018),
    "eu-west-1": _row(0.023, 0.0125, 0.01, 0.004, 0.0036, 0.00099, 0.11),
    "eu-west-2": _row(0.024, 0.0131, 0.0105, 0.005, 0.0041, 0.0018),
    "eu-central-1": _row(0.0245, 0.0135, 0.0108, 0.005, 0.0045, 0.0018),
    "eu-north-1": _row(0.023, 0.0125, 0.01, 0.004, 0.0036, 0.00099),
    "ap-northeast-1": _row(0.025, 0.0138, 0.011, 0.005, 0.0045, 0.002, 0.11),
    "ap-southeast-1": _row(0.025, 0.0138, 0.011, 0.005, 0.004, 0.002),
    "ap-southeast-2": _row(0.025, 0.0138, 0.011, 0.005, 0.0045, 0.00099),
    "ap-south-1": _row(0.025, 0.0138, 0.011, 0.005, 0.004, 0.002),
    "sa-east-1": _row(0.0405, 0.0221, 0.0176, 0.008, 0.006, 0.0032),
}


STORES = "stores"  # prices.json's section of prices per S3-compatible store
_CLASS = re.compile(r"^[A-Z][A-Z0-9_]*$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-\d+$")
MAX_PRICE = 100.0  # USD per GB-month; more is a typo (S3's dearest class is well under $1)


@dataclass(frozen=True)
class PriceTable:
    """Prices by region and storage class, with the user's overrides.

    `overrides` apply everywhere; keys are "CLASS", "REGION/CLASS", or "*"
    for every class. `stores` holds the same kind of overrides per
    S3-compatible store, keyed by its host (store_key); `store` is the store
    this table prices for, whose own prices win over `overrides`."""

    table: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: AWS_PRICES)
    overrides: Mapping[str, float] = field(default_factory=dict)
    stores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    store: str = ""
    as_of: str = PRICES_AS_OF

    def price(self, storage_class: str, region: str) -> float:
        """USD per GB-month. An unknown region is priced as us-east-1, a
        class the region's row lacks at us-east-1's price for it, and an
        unknown class as STANDARD: an estimate beats no number."""
        found = self._override(storage_class, region)
        if found is not None:
            return found[0]
        cls = (storage_class or "STANDARD").upper()
        row = self.table.get(region) or self.table[DEFAULT_REGION]
        base = self.table[DEFAULT_REGION]
        return float(row.get(cls, base.get(cls, row.get("STANDARD", base["STANDARD"]))))

    def source(self, storage_class: str, region: str) -> str:
        """Where price() takes its number from, for tooltips and footnotes."""
        found = self._override(storage_class, region)
        if found is None:
            return f"AWS's price of {self.as_of}"
        return f"your price for {self.store}" if found[1] else "your price"

    def describe(self, region: str | None = None) -> str:
        """What the estimates come from, for footnotes: "your prices for
        s3.wasabisys.com", or "AWS's prices of DATE (in REGION) per storage
        class" with ", and your prices" when some are set."""
        if self.stores.get(self.store):
            return f"your prices for {self.store}"
        where = f" in {region}" if region else ""
        return (f"AWS's prices of {self.as_of}{where} per storage class"
                + (", and your prices" if self.overrides else ""))

    def _override(self, storage_class: str, region: str) -> tuple[float, bool] | None:
        cls = (storage_class or "STANDARD").upper()
        keys = (f"{region}/{cls}", cls, "*")
        own = self.stores.get(self.store, {}) if self.store else {}
        for mine, where in ((True, own), (False, self.overrides)):
            for key in keys:
                if key in where:
                    return float(where[key]), mine
        return None

    def monthly_cost(self, size: int, storage_class: str, region: str) -> float:
        return size / GiB * self.price(storage_class, region)

    def with_overrides(self, overrides: Mapping[str, float]) -> PriceTable:
        checked = check_prices(overrides)
        return replace(self, overrides={**self.overrides, **checked})

    def for_store(self, endpoint_url: str | None) -> PriceTable:
        """This table as it prices the store at `endpoint_url` (None: AWS)."""
        return replace(self, store=store_key(endpoint_url))

    def only(self, price_per_gb_month: float) -> PriceTable:
        """One price for every class, region and store (a one-run override,
        `--price-per-gb-month`)."""
        return replace(self, overrides=check_prices({"*": price_per_gb_month}), stores={},
                       store="")


def store_key(endpoint_url: str | None) -> str:
    """The key a store's prices are kept under: its host[:port], lower
    case ("" is AWS, reached without an endpoint URL). The price belongs to
    the store, not to the account's name: an account and `--endpoint-url`
    pointing at the same host get the same prices."""
    if not endpoint_url:
        return ""
    text = endpoint_url.strip()
    parsed = urlparse(text if "://" in text else f"https://{text}")
    host = (parsed.hostname or "").lower()
    if not host:
        return ""
    try:
        port = parsed.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def check_prices(prices: Mapping[str, Any]) -> dict[str, float]:
    """Validated overrides ("*", "CLASS" or "REGION/CLASS" -> USD per
    GB-month), or ValueError with a sentence naming the bad entry."""
    out: dict[str, float] = {}
    for key, value in prices.items():
        name = str(key).strip()
        region, _, cls = name.rpartition("/")
        if name != "*" and (not _CLASS.match(cls.upper()) or (region and not _REGION.match(region))
                            or ("/" in name and not region)):
            raise ValueError(f"'{key}' is not a storage class: write STANDARD, GLACIER, ..., "
                             "a region and a class as eu-west-1/STANDARD, or * for every class.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value <= MAX_PRICE or value != value:
            raise ValueError(f"The price for '{key}' must be a number of US dollars per "
                             f"GB-month from 0 to {MAX_PRICE:g} (it is {value!r}).")
        out["*" if name == "*" else (f"{region}/" if region else "") + cls.upper()] = \
            float(value)
    return out


PRICES_FILE = "prices.json"


def prices_path() -> Path:
    return state_dir() / PRICES_FILE


def read_prices(path: Path | None = None) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The overrides of $MPUGUI_HOME/prices.json, checked: those for
    everywhere and those per store. A missing file has none.

    The file: {"STANDARD": 0.021, "eu-west-1/GLACIER": 0.004,
               "stores": {"s3.wasabisys.com": {"*": 0.0069},
                          "ACCOUNT.r2.cloudflarestorage.com":
                              {"STANDARD": 0.015, "STANDARD_IA": 0.01}}}"""
    path = path or prices_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, {}
    except (OSError, ValueError) as exc:
        raise MpuguiError(f"The prices in {path} cannot be read: {exc}.") from exc
    if not isinstance(raw, dict):
        raise MpuguiError(f"The prices in {path} must be a JSON object of prices.")
    raw = dict(raw)
    stores_raw = raw.pop(STORES, {})
    try:
        if not isinstance(stores_raw, dict) or not all(isinstance(v, dict)
                                                       for v in stores_raw.values()):
            raise ValueError('"stores" must map each store\'s host to its prices.')
        stores = {}
        for host, prices in stores_raw.items():
            key = store_key(str(host))
            if not key:
                raise ValueError(f"'{host}' is not a store's host or endpoint URL.")
            stores[key] = check_prices(prices)
        return check_prices(raw), stores
    except ValueError as exc:
        raise MpuguiError(f"{path}: {exc}") from exc


def load_table(path: Path | None = None, endpoint_url: str | None = None) -> PriceTable:
    """AWS's table with the user's prices (Settings > Storage prices, kept in
    prices.json), as it prices the store at `endpoint_url` (None: AWS)."""
    overrides, stores = read_prices(path)
    return PriceTable(overrides=overrides, stores=stores, store=store_key(endpoint_url))


def save_prices(overrides: Mapping[str, float], stores: Mapping[str, Mapping[str, float]],
                path: Path | None = None) -> None:
    """Write the user's prices (validated first: a bad entry raises
    MpuguiError with its sentence and nothing is written)."""
    path = path or prices_path()
    try:
        data: dict[str, Any] = dict(check_prices(overrides))
        checked = {}
        for host, prices in stores.items():
            key = store_key(host)
            if not key:
                raise ValueError(f"'{host}' is not a store's host or endpoint URL.")
            if prices:
                checked[key] = check_prices(prices)
    except ValueError as exc:
        raise MpuguiError(str(exc)) from exc
    if checked:
        data[STORES] = checked
    private_file(path)
    tmp = path.with_suffix(".tmp")
    private_file(tmp)
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
