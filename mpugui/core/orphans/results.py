"""What a scan finds: one row per unfinished upload, one report per bucket,
and the account's scan collecting them as they stream in. Plain data with
their JSON forms (the CLI's output and the remembered last scan share them)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mpugui.core.inventory.listing import Upload, parse_time
from mpugui.core.orphans.protection import Protection

if TYPE_CHECKING:
    from mpugui.core.orphans.prices import PriceTable


def _round(value: float, digits: int | None) -> float:
    return value if digits is None else round(value, digits)


@dataclass(frozen=True)
class ScannedUpload:
    upload: Upload
    region: str
    parts: int | None = None  # None when ListParts failed (see error)
    bytes: int | None = None
    monthly_cost: float | None = None  # USD, from the price table
    journal_id: int | None = None  # this app's transfer, when the journal knows it
    error: str | None = None

    def as_json(self, now: datetime, digits: int | None = 6) -> dict[str, Any]:
        """Every field of `mpugui uploads list --json`, plus the region
        (costs rounded to `digits`; None keeps them whole, for the memory)."""
        u = self.upload
        return {
            "bucket": u.bucket, "key": u.key, "upload_id": u.upload_id,
            "initiated": u.initiated.isoformat(), "age_seconds": int(u.age(now)),
            "initiator": u.initiator, "owner": u.owner, "storage_class": u.storage_class,
            "checksum_algorithm": u.checksum_algorithm, "parts": self.parts,
            "bytes": self.bytes,
            "estimated_monthly_cost": None if self.monthly_cost is None
            else _round(self.monthly_cost, digits),
            "journal_id": self.journal_id, "error": self.error, "region": self.region,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScannedUpload:
        up = Upload(str(data["bucket"]), str(data["key"]), str(data["upload_id"]),
                        parse_time(str(data["initiated"])), str(data.get("initiator", "")),
                        str(data.get("owner", "")), str(data.get("storage_class", "")),
                        data.get("checksum_algorithm"))
        return cls(up, str(data.get("region", "")), data.get("parts"), data.get("bytes"),
                   data.get("estimated_monthly_cost"), data.get("journal_id"),
                   data.get("error"))


@dataclass
class BucketReport:
    name: str
    region: str = ""
    protection: Protection | None = None
    uploads: int = 0
    parts: int = 0
    bytes: int = 0
    monthly_cost: float = 0.0
    oldest: datetime | None = None  # the oldest upload's initiation
    error: str | None = None  # the uploads could not be listed: the figures are partial
    unsized: int = 0  # uploads whose parts could not be listed
    directory: bool = False  # a directory bucket (S3 Express One Zone)

    def add(self, row: ScannedUpload) -> None:
        self.uploads += 1
        if row.bytes is None:
            self.unsized += 1
        else:
            self.parts += row.parts or 0
            self.bytes += row.bytes
            self.monthly_cost += row.monthly_cost or 0.0
        if self.oldest is None or row.upload.initiated < self.oldest:
            self.oldest = row.upload.initiated

    def as_json(self, now: datetime, digits: int | None = 6) -> dict[str, Any]:
        p = self.protection
        return {
            "bucket": self.name, "region": self.region, "uploads": self.uploads,
            "parts": self.parts, "bytes": self.bytes,
            "estimated_monthly_cost": _round(self.monthly_cost, digits),
            "oldest_initiated": self.oldest.isoformat() if self.oldest else None,
            "oldest_age_seconds": int((now - self.oldest).total_seconds())
            if self.oldest else None,
            "protection": p.as_json() if p else None,
            "unsized": self.unsized, "error": self.error,
            "bucket_type": "directory" if self.directory else "general",
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BucketReport:
        p = data.get("protection")
        prot = Protection(p["status"], p.get("days"),
                          tuple((r["prefix"], int(r["days"])) for r in p.get("rules", [])),
                          p.get("error")) if p else None
        oldest = data.get("oldest_initiated")
        return cls(str(data["bucket"]), str(data.get("region", "")), prot,
                   int(data.get("uploads", 0)), int(data.get("parts", 0)),
                   int(data.get("bytes", 0)), float(data.get("estimated_monthly_cost", 0.0)),
                   parse_time(oldest) if oldest else None, data.get("error"),
                   int(data.get("unsized", 0)), data.get("bucket_type") == "directory")


@dataclass
class AccountScan:
    """The scan of one account, filled in as events arrive (not thread-safe:
    the scanner serialises its callbacks)."""

    account: str
    started: datetime
    finished: datetime | None = None
    stopped: bool = False
    buckets: dict[str, BucketReport] = field(default_factory=dict)  # finished buckets
    uploads: list[ScannedUpload] = field(default_factory=list)
    skipped_buckets: int = 0  # in regions the scan was told to leave out

    def bucket_done(self, report: BucketReport) -> None:
        self.buckets[report.name] = report

    def upload_found(self, row: ScannedUpload) -> None:
        self.uploads.append(row)

    def uploads_of(self, bucket: str) -> list[ScannedUpload]:
        return [u for u in self.uploads if u.upload.bucket == bucket]

    def reprice(self, prices: PriceTable) -> None:
        """Every cost again from `prices` (the user changed their prices, or
        the remembered scan was priced with older ones); the buckets' sums
        follow. Once per change of prices, over every upload."""
        self.uploads = [replace(r, monthly_cost=None if r.bytes is None else
                                prices.monthly_cost(r.bytes, r.upload.storage_class, r.region))
                        for r in self.uploads]
        sums: dict[str, float] = {}
        for r in self.uploads:
            sums[r.upload.bucket] = sums.get(r.upload.bucket, 0.0) + (r.monthly_cost or 0.0)
        for name, report in self.buckets.items():
            report.monthly_cost = sums.get(name, 0.0)
