"""The destination dialog's form pieces for how objects are stored and sent:
storage class, checksum, what to do with an existing key, skipping files
already there, part size (a list, or typed with the CLI's words) and
concurrency. Each builder returns its widget ready for a form row."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from mpugui.core.errors import MpuguiError
from mpugui.core.options import parse_part_size
from mpugui.core.s3.checksums import ALGORITHMS, DEFAULT_ALGORITHM
from mpugui.core.s3.plan import MAX_PINNED_CONCURRENCY
from mpugui.core.units import MiB, format_bytes

STORAGE_CLASSES: list[tuple[str | None, str]] = [
    (None, "Bucket default"),
    ("STANDARD", "Standard"),
    ("INTELLIGENT_TIERING", "Intelligent-Tiering"),
    ("STANDARD_IA", "Standard-IA (infrequent access)"),
    ("ONEZONE_IA", "One Zone-IA"),
    ("GLACIER_IR", "Glacier Instant Retrieval"),
    ("GLACIER", "Glacier Flexible Retrieval"),
    ("DEEP_ARCHIVE", "Glacier Deep Archive"),
]
CHECKSUM_LABELS = {
    "crc32c": "CRC32C — fast, computed in hardware",
    "crc32": "CRC32",
    "sha256": "SHA-256 — slower",
    "md5": "MD5 (Content-MD5) — for stores without newer checksums",
    "none": "None — no per-part integrity check",
}
PART_SIZES = [8 * MiB, 16 * MiB, 32 * MiB, 64 * MiB, 128 * MiB, 256 * MiB, 512 * MiB,
              1024 * MiB]
SKIP_EXISTING_TIP = (
    "Before uploading, the destination is looked up once (the prefix is listed, or "
    "each key asked when there are only a few files). A file is skipped when an object "
    "with its key has the same size and the same content: the ETag this app recorded "
    "when it uploaded the file, or the file's MD5 or multipart ETag computed here. "
    "Files that cannot be compared this way are uploaded.")


def storage_class_combo() -> QComboBox:
    combo = QComboBox()
    for value, label in STORAGE_CLASSES:
        combo.addItem(label if value is None else f"{label}  ({value})", value)
    return combo


def checksum_combo() -> QComboBox:
    combo = QComboBox()
    for name in ALGORITHMS:
        label = CHECKSUM_LABELS.get(name, name)
        if name == DEFAULT_ALGORITHM:
            label += " (recommended)"
        combo.addItem(label, name)
    combo.setToolTip("Each part carries this checksum and the server refuses a part that "
                     "arrives damaged.")
    return combo


def select_checksum(combo: QComboBox, name: str) -> None:
    """Show `name`, or the recommended one when it is not offered."""
    combo.setCurrentIndex(max(0, combo.findData(name if name in ALGORITHMS
                                                else DEFAULT_ALGORITHM)))


def existing_key_choice(parent: QWidget) -> tuple[QRadioButton, QRadioButton, QHBoxLayout]:
    """Replace an existing object, or keep it (the upload fails): the two
    radios, Replace chosen, and their row."""
    replace = QRadioButton("&Replace it")
    keep = QRadioButton("&Keep it (the upload fails)")
    keep.setToolTip("Sends If-None-Match: * so the server refuses to replace an existing "
                    "object.")
    group = QButtonGroup(parent)
    group.addButton(replace)
    group.addButton(keep)
    replace.setChecked(True)
    row = QHBoxLayout()
    row.addWidget(replace)
    row.addWidget(keep)
    row.addStretch(1)
    return replace, keep, row


def skip_existing_check(ticked: bool) -> QCheckBox:
    check = QCheckBox("Skip files already &in the bucket (same size and content)")
    check.setToolTip(SKIP_EXISTING_TIP)
    check.setChecked(ticked)
    return check


def part_size_text(size: int) -> str:
    return format_bytes(size).replace(".0 ", " ")


def part_size_combo() -> QComboBox:
    """Automatic, the usual sizes, or a size typed."""
    combo = QComboBox()
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.addItem("Automatic", None)
    for size in PART_SIZES:
        combo.addItem(part_size_text(size), size)
    combo.setToolTip("5 MiB to 5 GiB; raised automatically when a file would need more "
                     "than 10,000 parts.")
    return combo


def chosen_part_size(combo: QComboBox) -> int | None:
    """The part size chosen or typed (None: automatic), or MpuguiError with
    a sentence."""
    index = combo.findText(combo.currentText())
    if index >= 0:
        return combo.itemData(index)
    text = combo.currentText().strip()
    if not text or text.lower() == "automatic":
        return None
    try:
        return parse_part_size(text)  # the words of the CLI's --part-size
    except ValueError as exc:
        raise MpuguiError(f"Part size: {exc}.") from None


def show_part_size(combo: QComboBox, size: int | None) -> None:
    index = combo.findData(size or None)
    if index >= 0:
        combo.setCurrentIndex(index)
    else:
        combo.setEditText(part_size_text(size or 0))


def concurrency_spin() -> QSpinBox:
    """Parts at once; 0 shows as Automatic (the app's setting)."""
    spin = QSpinBox()
    spin.setRange(0, MAX_PINNED_CONCURRENCY)
    spin.setSpecialValueText("Automatic")
    spin.setSuffix(" parts at once")
    spin.setToolTip("How many parts upload at the same time; Automatic uses the app's "
                    "setting.")
    return spin
