"""botocore's data loader, made quicker where a command's start-up waits on it.

Every command builds an S3 client before its first request, and most of
that is botocore reading its data: ~80 ms of a 0.4 s `mpugui upload`. Two
parts of it are work a client never uses:

- botocore lists every service it knows (some 400 directories, 900
  directory reads: 13 ms) only to check that `s3` is one of them. Here the
  check looks in the asked service's directory first, and lists everything
  only when the service is not found there (so an unknown name fails as
  botocore's own check fails).
- The JSON (S3's model, its endpoint rules, the partitions: ~2.5 MB) is
  parsed into OrderedDicts through an object hook, twice as slow as into
  plain dicts, which keep their order too and which botocore reads alike.
  Parsed once, it is kept in the cache dir in marshal's format, which loads
  in a fifth of the time (S3's model: 16 ms of JSON, 3 ms) and, unlike
  pickle, runs no code; a copy is used only while its file's path, size and
  time and this Python's marshal format are the same.

Same search paths (AWS_DATA_PATH, ~/.aws/models, botocore's data), same files.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import marshal
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from botocore.loaders import JSONFileLoader, Loader

from mpugui.core import paths

_OPENERS: tuple[tuple[str, Callable[..., Any]], ...] = (
    (".json", open), (".json.gz", gzip.open))  # botocore's order: plain first


class PlainJSONFileLoader(JSONFileLoader):
    def load_file(self, file_path: str) -> Any:
        for ext, opener in _OPENERS:
            path = file_path + ext
            try:
                st = os.stat(path)
            except OSError:
                continue
            copy = _copy_path(path, st)
            try:
                with open(copy, "rb") as f:
                    return marshal.loads(f.read())
            except (OSError, ValueError, EOFError, TypeError):  # none yet, or unreadable
                pass
            with opener(path, "rb") as f:
                data = json.loads(f.read().decode("utf-8"))
            _keep(copy, data)
            return data
        return None


def _copy_path(path: str, st: os.stat_result) -> str:
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}|{marshal.version}|{sys.version_info[:2]}"
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    return os.path.join(paths.cache_dir(), "botocore-data", f"{name}.marshal")


def _keep(copy: str, data: Any) -> None:
    """Best effort: a cache dir that cannot be written costs the JSON each time."""
    tmp = f"{copy}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(copy), mode=0o700, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(marshal.dumps(data))
        os.replace(tmp, copy)  # whole or not at all, for a process reading it meanwhile
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass


class _ServiceNames(Sequence[str]):
    """What Loader.list_available_services returns, with a membership test
    that does not need the whole list."""

    def __init__(self, loader: ModelLoader, type_name: str) -> None:
        self._loader, self._type = loader, type_name
        self._all: list[str] | None = None

    def _names(self) -> list[str]:
        if self._all is None:
            self._all = Loader.list_available_services(self._loader, self._type)
        return self._all

    def __contains__(self, name: object) -> bool:
        return (isinstance(name, str) and self._loader.has_service(name, self._type)) \
            or name in self._names()

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


class ModelLoader(Loader):
    FILE_LOADER_CLASS = PlainJSONFileLoader

    def list_available_services(  # type: ignore[override]  # (a Sequence, not a list)
            self, type_name: str) -> Sequence[str]:
        return _ServiceNames(self, type_name)

    def has_service(self, name: str, type_name: str) -> bool:
        """Whether some API version of `name` has a `type_name` file on the
        search path (botocore's own test, for one service)."""
        for base in self.search_paths:
            folder = os.path.join(base, name)
            if not os.path.isdir(folder):
                continue
            for version in os.listdir(folder):
                if self.file_loader.exists(os.path.join(folder, version, type_name)):
                    return True
        return False


def loader_for(data_path: str | None) -> ModelLoader:
    """The loader botocore's session would make for AWS_DATA_PATH `data_path`."""
    paths = None
    if data_path:
        paths = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)]
    return ModelLoader(extra_search_paths=paths)
