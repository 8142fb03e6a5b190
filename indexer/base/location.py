"""Where a library lives: a folder (the default), or a PostgreSQL database several computers share.

A server library still has a folder on each computer that opens it, for what stays local:
thumbnails, the decode journal, the log, the model choice records. Its name is derived from
the server's address (without the password), so every run on this computer finds the same one.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

SCHEMES = ("postgresql://", "postgres://")


@dataclasses.dataclass(frozen=True)
class Location:
    folder: Path  # the whole library, or (with ``server``) this computer's part of it
    server: str | None = None  # the PostgreSQL address (a libpq URL) of a server library

    @property
    def shown(self) -> str:
        """What a person is shown: the folder, or the server's address without its password."""
        return f"postgresql://{public_url(self.server)}" if self.server else str(self.folder)


def is_server(where: str | Path | None) -> bool:
    return isinstance(where, str) and where.startswith(SCHEMES)


def public_url(url: str) -> str:
    """The address without its password, for messages, logs and the local folder's name."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - psycopg's ProgrammingError: not an address it can read
        return "the PostgreSQL address given"
    host = str(parts.get("host") or "localhost")
    where = host if host.startswith("/") else f"{host}:{parts.get('port') or 5432}"
    user = str(parts.get("user") or "")
    return f"{user}{'@' if user else ''}{where}/{parts.get('dbname') or ''}"


def server_location(url: str, data_dir: Path) -> Location:
    key = hashlib.sha1(public_url(url).encode()).hexdigest()[:12]
    return Location(data_dir / "servers" / key, url)
