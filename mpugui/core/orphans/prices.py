"""What unfinished uploads cost a month: a small dated price table per
storage class and region, with overrides for S3-compatible stores.

S3 bills the parts of an incomplete upload as stored bytes of the upload's
storage class. The table holds AWS's first-tier storage prices; it is an
estimate (no tiers, no minimum durations, no request charges) and it goes
stale, hence the date and the overrides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class PriceTable:
    """Prices by region and storage class. `overrides` win over the table:
    keys are "CLASS", "REGION/CLASS", or "*" for every class (an
    S3-compatible store usually has one flat price)."""

    table: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: AWS_PRICES)
    overrides: Mapping[str, float] = field(default_factory=dict)
    as_of: str = PRICES_AS_OF

    def price(self, storage_class: str, region: str) -> float:
        """USD per GB-month. An unknown region is priced as us-east-1 and an
        unknown class as STANDARD: an estimate beats no number."""
        cls = (storage_class or "STANDARD").upper()
        for key in (f"{region}/{cls}", cls, "*"):
            if key in self.overrides:
                return float(self.overrides[key])
        row = self.table.get(region) or self.table[DEFAULT_REGION]
        return float(row.get(cls, row.get("STANDARD", self.table[DEFAULT_REGION]["STANDARD"])))

    def monthly_cost(self, size: int, storage_class: str, region: str) -> float:
        return size / GiB * self.price(storage_class, region)

    def with_overrides(self, overrides: Mapping[str, float]) -> PriceTable:
        bad = {k: v for k, v in overrides.items() if not isinstance(v, (int, float)) or v < 0}
        if bad:
            raise ValueError(f"Prices must be numbers of at least 0: {bad}")
        return PriceTable(self.table, {**self.overrides, **overrides}, self.as_of)

    @classmethod
    def flat(cls, price_per_gb_month: float) -> PriceTable:
        """One price for everything (the old single-price setting)."""
        return cls().with_overrides({"*": price_per_gb_month})


PRICES_FILE = "prices.json"


def load_table(path: Path | None = None) -> PriceTable:
    """The AWS table with the user's overrides from $MPUGUI_HOME/prices.json
    (e.g. {"*": 0.0059} for a store with one flat price, or
    {"eu-west-1/STANDARD": 0.021}); a missing file means no overrides."""
    path = path or state_dir() / PRICES_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return PriceTable()
    except (OSError, ValueError) as exc:
        raise MpuguiError(f"The price overrides in {path} cannot be read: {exc}.") from exc
    if not isinstance(raw, dict):
        raise MpuguiError(f"The price overrides in {path} must be a JSON object of prices.")
    try:
        return PriceTable().with_overrides(raw)
    except ValueError as exc:
        raise MpuguiError(f"{path}: {exc}") from exc


def save_overrides(overrides: Mapping[str, float], path: Path | None = None) -> None:
    path = path or state_dir() / PRICES_FILE
    PriceTable().with_overrides(overrides)  # validates
    private_file(path).write_text(json.dumps(dict(overrides), indent=2), encoding="utf-8")
