"""One writer per server library, across computers: a PostgreSQL advisory lock in place of ``flock``.

The lock is held by a connection of its own for as long as one write lasts. A process that
dies, or a computer that drops off the network, loses its connection and with it the lock
(the server notices the closed socket, or its TCP keepalive does), so the next writer goes
on; what the dead one had not committed is rolled back by the server: it loses that batch only.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psycopg

from indexer.base.environment import this_computer
from indexer.base.errors import LibraryBusy
from indexer.store.writelock import WriteLock

LOCK_KEY = 0x676C696D7073  # "glimps": one library per database, so one key


class ServerWriteLock(WriteLock):
    """``WriteLock``'s thread rules, with the process part taken on the server."""

    def __init__(self, url: str, folder: Path) -> None:
        super().__init__(folder / "write.lock")
        self.url = url
        self._conn: psycopg.Connection | None = None

    def _lock_process(self, wait: bool, end: float, cancel: threading.Event | None) -> None:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                               keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
        try:
            told = False
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]:
                holder = self._holder(conn)
                if not wait:
                    raise LibraryBusy(f"another Glimpse process ({holder}) is updating this library; searching "
                                      "still works. Try again when it finishes, or use --wait.")
                if not told:
                    self._told_wait(holder)
                told = True
                self._check_wait(end, cancel)
                time.sleep(self.POLL)
            conn.execute("INSERT INTO meta VALUES ('writer', %s) ON CONFLICT (key) DO UPDATE SET value = "
                         "excluded.value", [f"pid {os.getpid()} on {this_computer()}"])
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    @staticmethod
    def _holder(conn: psycopg.Connection) -> str:
        row = conn.execute("SELECT value FROM meta WHERE key = 'writer'").fetchone()
        return row[0] if row else "?"

    def _release_process(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the session's advisory lock goes with it
            self._conn = None
