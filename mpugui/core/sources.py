"""Local files: walking what the user dropped, naming keys, and telling
whether a file is still the one that was planned."""

from __future__ import annotations

import errno
import functools
import hashlib
import mimetypes
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mpugui.core.errors import SourceChanged
from mpugui.core.problem_tally import (
    BROKEN_LINK,
    FOLDER,
    FOLDER_LOOP,
    KEY,
    LINK_LOOP,
    MISSING,
    NOT_A_FILE,
    OTHER,
    PERMISSION,
)

try:  # awscrt is a dependency, but keep working where its wheel is missing
    from awscrt.checksums import crc64nvme as _crc64
except ImportError:  # pragma: no cover - depends on the platform
    _crc64 = None  # type: ignore[assignment]  # tested before use

MAX_KEY_BYTES = 1024
_EUID = os.geteuid()
_SAMPLE = 64 * 1024
# A sample is "c" and the CRC64/NVME of its windows (hardware CRC: 0.02 ms for
# 192 KiB, where BLAKE2b took 0.3 ms, most of a small file's reading cost).
# Journals from before hold 32 hex digits of BLAKE2b: a sample taken to
# compare with one of those is taken the same way.
_CRC_KIND = "c"


@dataclass(frozen=True, slots=True)
class Identity:
    size: int
    mtime_ns: int
    sample: str  # hash of the first, middle and last 64 KiB ("" when not taken)


@functools.lru_cache(maxsize=4096)
def _type_of(suffixes: str) -> str | None:
    return mimetypes.guess_type("f." + suffixes)[0]


def guess_type(path: str) -> str | None:
    """The Content-Type for a file name, as mimetypes says (remembered per
    ending: a folder of photos asks it 100,000 times)."""
    name = os.path.basename(path).lower()
    return _type_of(name.split(".", 1)[1]) if "." in name.lstrip(".") else None


def identity(path: str, like: str = "") -> Identity:
    with open(path, "rb") as f:
        return identity_of(f.fileno(), path, like=like)


def identity_of(fd: int, path: str, data: memoryview | bytes | None = None,
                like: str = "") -> Identity:
    """The identity of the open file `fd`; `data`, when given, is its whole
    content already read (a small file's sample is taken from it, not read
    again). `like`: a sample taken before, to be compared with this one (the
    new one is of its kind)."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise SourceChanged(f"'{path}' is not a regular file.")
    size = st.st_size
    whole = memoryview(data) if data is not None and len(data) == size else None
    windows: list[memoryview | bytes] = [whole[offset:offset + _SAMPLE] if whole is not None
               else os.pread(fd, _SAMPLE, offset)
               for offset in sorted({0, max(0, size // 2 - _SAMPLE // 2),
                                     max(0, size - _SAMPLE)})]
    return Identity(size, st.st_mtime_ns, _sample(windows, like))


def _sample(windows: list[memoryview | bytes], like: str) -> str:
    if _crc64 is not None and (not like or like.startswith(_CRC_KIND)):
        crc = 0
        for window in windows:
            crc = _crc64(window, crc)  # type: ignore[arg-type]  # reads any buffer
        return f"{_CRC_KIND}{crc:016x}"
    h = hashlib.blake2b(digest_size=16)
    for window in windows:
        h.update(window)
    return h.hexdigest()


def describe_change(path: str, expected: Identity, now: Identity) -> None:
    """Raise SourceChanged with a sentence when `now` is not `expected` (an
    expected sample of "" was never taken: size and time decide)."""
    if now.size != expected.size:
        raise SourceChanged(
            f"'{path}' changed size since the upload started "
            f"({expected.size:,} → {now.size:,} bytes).")
    if now.mtime_ns != expected.mtime_ns or \
            (expected.sample and now.sample != expected.sample):
        raise SourceChanged(f"'{path}' was modified since the upload started.")


def check_unchanged(path: str, expected: Identity) -> None:
    """Raise SourceChanged with a sentence when the file is not as journaled."""
    try:
        now = identity(path, like=expected.sample)
    except FileNotFoundError:
        raise SourceChanged(
            f"'{path}' has been deleted or moved since the upload started.") from None
    except PermissionError:
        raise SourceChanged(f"'{path}' can no longer be read (permission denied).") from None
    describe_change(path, expected, now)


def read_whole(path: str, size: int, planned: Identity, like: str) -> tuple[bytes, str]:
    """A small file's whole content, read from one open and checked against
    the identity it was planned with (so what is sent is what was planned),
    and the sample of what was read (of the kind of `like`)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        check_unchanged(path, planned)
        raise
    try:
        chunks, got = [], 0
        while got < size:
            chunk = os.pread(fd, size - got, got)
            if not chunk:
                raise SourceChanged(f"'{path}' became shorter while it was being uploaded.")
            chunks.append(chunk)
            got += len(chunk)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        now = identity_of(fd, path, data, like=like)
        describe_change(path, planned, now)
        return data, now.sample
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    key: str
    size: int = -1  # as the walk saw it (-1: not looked at)
    mtime_ns: int = 0


@dataclass
class Walk:
    files: list[SourceFile]
    problems: list[str]  # one sentence per entry that cannot be uploaded


def key_problem(key: str) -> str | None:
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        return f"The name '{key.encode('utf-8', 'replace').decode()}' is not valid UTF-8, " \
               "so it cannot become an S3 key."
    if len(encoded) > MAX_KEY_BYTES:
        return f"The key for '{key[:60]}…' is {len(encoded)} bytes; S3 allows 1024."
    if not key:
        return "The key is empty."
    return None


@dataclass(frozen=True, slots=True)
class Problem:
    text: str  # one sentence: why an entry cannot be uploaded
    cause: str = OTHER  # a problem_tally cause: entries are counted by it
    path: str = ""


def _inspect(path: str) -> Problem | os.stat_result:
    """Why `path` cannot be uploaded, or its stat."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return Problem(f"'{path}' is a broken symbolic link (it points to "
                           f"'{os.readlink(path)}', which does not exist).", BROKEN_LINK, path)
        return Problem(f"'{path}' does not exist.", MISSING, path)
    except PermissionError:
        return Problem(f"'{path}' cannot be read (permission denied).", PERMISSION, path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Problem(f"'{path}' is a symbolic link loop.", LINK_LOOP, path)
        return Problem(f"'{path}' cannot be read: {exc.strerror}.", OTHER, path)
    if stat.S_ISFIFO(st.st_mode):
        return Problem(f"'{path}' is a named pipe (FIFO), not a file.", NOT_A_FILE, path)
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return Problem(f"'{path}' is a device, not a file.", NOT_A_FILE, path)
    if stat.S_ISSOCK(st.st_mode):
        return Problem(f"'{path}' is a socket, not a file.", NOT_A_FILE, path)
    # The owner's read bit answers for most files without another system
    # call (a folder of 100,000 files: 100,000 fewer).
    readable = st.st_uid == _EUID and st.st_mode & stat.S_IRUSR
    if not readable and not os.access(path, os.R_OK):
        return Problem(f"'{path}' cannot be read (permission denied).", PERMISSION, path)
    return st


def join_key(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return prefix if prefix.endswith("/") and not name else prefix.rstrip("/") + "/" + name




def collect(sources: list[str], dest_key: str, *, keep_folder_name: bool = False) -> Walk:
    """Everything walk() yields, as lists."""
    walk = Walk([], [])
    for item in walk_sources(sources, dest_key, keep_folder_name=keep_folder_name):
        if isinstance(item, Problem):
            walk.problems.append(item.text)
        else:
            walk.files.append(item)
    return walk


def walk_sources(sources: list[str], dest_key: str, *,
                 keep_folder_name: bool = False) -> Iterator[SourceFile | Problem]:
    """Files to upload and their keys, lazily (a caller can start uploading
    before a big folder is walked), following `aws s3 cp`:

    - one file to a key not ending in '/' -> exactly that key;
    - files to a prefix (ending in '/', empty, or several sources) -> prefix + name;
    - a folder -> prefix + its contents' relative paths (with keep_folder_name,
      as a GUI drop does, the folder's own name comes first).
    Folders are walked recursively, in sorted order (a resumed walk meets the
    files in the same order); a symlinked folder already seen (a loop) is not
    entered again.
    """
    as_prefix = dest_key == "" or dest_key.endswith("/") or len(sources) > 1
    for raw in sources:
        src = os.fspath(raw)
        if os.path.isdir(src):
            base = join_key(dest_key, os.path.basename(os.path.normpath(src))) \
                if keep_folder_name else dest_key
            yield from _walk_dir(src, base)
            continue
        key = join_key(dest_key, os.path.basename(src)) if as_prefix else dest_key
        yield _entry(src, key)


def _entry(path: str, key: str) -> SourceFile | Problem:
    st = _inspect(path)
    if isinstance(st, Problem):
        return st
    problem = key_problem(key)
    return Problem(problem, KEY, path) if problem else \
        SourceFile(path, key, st.st_size, st.st_mtime_ns)


def _walk_dir(root: str, prefix: str) -> Iterator[SourceFile | Problem]:
    seen: set[tuple[int, int]] = set()
    errors: list[Problem] = []

    def on_error(exc: OSError) -> None:
        why = (exc.strerror or str(exc)).lower()
        errors.append(Problem(f"The folder '{exc.filename}' cannot be listed ({why}); "
                              "its contents were skipped.", FOLDER, str(exc.filename)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=True):
        yield from errors
        errors.clear()
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:
            yield Problem(f"'{dirpath}' loops back to a folder already walked.",
                          FOLDER_LOOP, dirpath)
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else Path(rel_dir, name).as_posix()
            yield _entry(path, join_key(prefix, rel))
    yield from errors
