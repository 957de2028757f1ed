"""Entries of a drop or a folder that cannot be uploaded, counted by cause:
one sentence per cause whatever the count. A folder of 10,000 unreadable
files is one line in the window and on stderr, not 10,000; the log file
keeps every entry."""

from __future__ import annotations

from dataclasses import dataclass, field

from mpugui.core.units import plural

# Causes (sources.Problem.cause) and how many of them are said: (noun, what).
PERMISSION = "permission"
MISSING = "missing"
BROKEN_LINK = "broken-link"
LINK_LOOP = "link-loop"
FOLDER_LOOP = "folder-loop"
NOT_A_FILE = "not-a-file"
FOLDER = "folder"
KEY = "key"
OTHER = "other"

_PHRASES = {
    PERMISSION: ("file", "cannot be read (permission denied)"),
    MISSING: ("file", "no longer exist (deleted or moved since they were chosen)"),
    BROKEN_LINK: ("symbolic link", "point to nothing (broken links)"),
    LINK_LOOP: ("symbolic link", "loop back on themselves"),
    FOLDER_LOOP: ("folder", "loop back to a folder already walked"),
    NOT_A_FILE: ("entry", "are not regular files (named pipes, devices or sockets)"),
    FOLDER: ("folder", "cannot be listed, so their contents were skipped"),
    KEY: ("name", "cannot become S3 keys"),
    OTHER: ("entry", "cannot be uploaded"),
}
EACH = 3  # entries of one cause said one by one; the rest only counted
EXAMPLES = 2  # named in a cause's sentence


@dataclass
class _Cause:
    count: int = 0
    first: list[str] = field(default_factory=list)  # the first sentences
    names: list[str] = field(default_factory=list)  # the first entries' paths


@dataclass
class ProblemTally:
    causes: dict[str, _Cause] = field(default_factory=dict)

    def add(self, cause: str, text: str, path: str = "") -> bool:
        """Count one entry; True while it is among the first EACH of its
        cause (then it is worth saying on its own)."""
        c = self.causes.setdefault(cause if cause in _PHRASES else OTHER, _Cause())
        c.count += 1
        if len(c.first) < EACH:
            c.first.append(text)
            c.names.append(path)
            return True
        return False

    @property
    def total(self) -> int:
        return sum(c.count for c in self.causes.values())

    def sentences(self) -> list[str]:
        """One sentence per cause: the entry's own sentence when it is the
        only one, else the count with the first entries named."""
        return [_sentence(cause, c) for cause, c in self.causes.items()]

    def beyond_each(self) -> list[str]:
        """The sentences of the causes that had more entries than were said
        one by one (said once at the end, after the first EACH)."""
        return [_sentence(cause, c) for cause, c in self.causes.items() if c.count > EACH]

    def details(self) -> list[str]:
        return [text for c in self.causes.values() for text in c.first]


def _sentence(cause: str, c: _Cause) -> str:
    if c.count == 1:
        return c.first[0]
    noun, what = _PHRASES[cause]
    many = "entries" if noun == "entry" else None
    named = [f"'{n}'" for n in c.names[:EXAMPLES] if n]
    rest = c.count - len(named)
    if not named:
        listed = ""
    elif rest:
        listed = ": " + ", ".join(named) + f" and {rest:,} more"
    else:
        listed = ": " + " and ".join(named)
    return f"{plural(c.count, noun, many)} {what}{listed}."
