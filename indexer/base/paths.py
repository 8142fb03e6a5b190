"""File names as they are on disk: any bytes, stored losslessly, shown readably.

On Linux a file name is bytes; Python hands it over as ``str`` with undecodable bytes
as lone surrogates (``os.fsdecode``'s ``surrogateescape``). SQLite and every text
output refuse those, so one Latin-1 name from an old drive used to stop a whole run.
Here a name that is valid UTF-8 is stored as TEXT (as before: old libraries need no
migration) and any other name as a BLOB of its exact bytes, so ``from_db(to_db(p)) == p``
for every path the file system can hold. People see ``display(p)``: the same name with
U+FFFD where a byte cannot be shown.
"""

from __future__ import annotations

import base64
import os


def is_text(path: str) -> bool:
    """True when ``path`` is valid Unicode text (no escaped undecodable bytes)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_db(path: str) -> str | bytes:
    """The value a path is stored (and looked up) as: TEXT when it can be, else its raw bytes."""
    return path if is_text(path) else os.fsencode(path)


def from_db(value: str | bytes) -> str:
    """The path back, exactly as the file system gave it."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def display(path: str) -> str:
    """A printable form: undecodable bytes become U+FFFD; everything else is unchanged."""
    if is_text(path):
        return path
    return os.fsencode(path).decode("utf-8", "replace")


_CONTROL = {c: f"\\x{c:02x}" for c in range(0x20)} | {0x7F: "\\x7f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def printable(path: str) -> str:
    """``display`` with control characters written as escapes (a newline as ``\\n``), so a
    listing keeps one file per line and every character is visible in any font."""
    return display(path).translate(_CONTROL)


def to_b64(path: str) -> str:
    """The exact bytes of a path for JSON consumers (``os.fsencode``), base64-encoded."""
    return base64.b64encode(os.fsencode(path)).decode("ascii")


def from_b64(text: str) -> str:
    return os.fsdecode(base64.b64decode(text))
