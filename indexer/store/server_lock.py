"""One writer per server library, across computers: a PostgreSQL advisory lock in place of ``flock``.

The lock is held by a connection of its own for as long as one write lasts. A process that
dies, or a computer that drops off the network, loses its connection and with it the lock
(the server notices the closed socket, or its TCP keepalive does), so the next writer goes
on; what the dead one had not committed is rolled back by the server: it loses that batch only.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from indexer.base.environment import this_computer
from indexer.store.writelock import WriteLock

LOCK_KEY = 0x676C696D7073  # "glimps": one library per database, so one key


class ServerWriteLock(WriteLock):
    """``WriteLock``'s thread rules, with the process part taken on the server."""

    def __init__(self, url: str, folder: Path) -> None:
        super().__init__(folder / "write.lock")
        self.url = url

    def _open_process_lock(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                               keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)

    def _try_process_lock(self, conn: psycopg.Connection) -> bool:
        return bool(conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0])

    def _holder_of(self, conn: psycopg.Connection) -> str:
        row = conn.execute("SELECT value FROM meta WHERE key = 'writer'").fetchone()
        return row[0] if row else "?"

    def _claimed(self, conn: psycopg.Connection) -> None:
        conn.execute("INSERT INTO meta VALUES ('writer', %s) ON CONFLICT (key) DO UPDATE SET value = "
                     "excluded.value", [f"pid {os.getpid()} on {this_computer()}"])

    def _close_process_lock(self, conn: psycopg.Connection) -> None:
        conn.close()

    def _unlock_process(self, conn: psycopg.Connection) -> None:
        """Unlocked before closing: a closed session's locks go only when its server process has
        ended, a moment after ``close()`` returns, so this process's next write could find its own
        lock still held (seen in CI). A connection already lost has lost the lock with it."""
        try:
            conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        except psycopg.Error:
            pass
        conn.close()
