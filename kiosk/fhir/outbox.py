"""Which screenings a FHIR server has accepted: everything else is still queued for it.

Kept beside the results store (``DATA/fhir-outbox.sqlite3``, 0600 like the store) rather than in its
``screenings`` table: a push changes nothing about the screening itself, a programme may push to more
than one server, and the store's schema stays the store's. A result is marked only after the server
answered its whole transaction with success, so a crash or a refused push leaves it queued.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..store import private_db, private_dir, store_time

OUTBOX_DB = "fhir-outbox.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pushed (
    result_id  TEXT NOT NULL,
    server     TEXT NOT NULL,   -- the FHIR base URL, without a trailing slash
    pushed_at  TEXT NOT NULL,   -- ISO 8601, UTC
    location   TEXT,            -- the Observation's location on that server
    PRIMARY KEY (result_id, server)
)
"""


def server_key(base_url: str) -> str:
    return base_url.rstrip("/")


class Outbox:
    def __init__(self, data_dir: str | Path) -> None:
        data_dir = Path(data_dir)
        private_dir(data_dir)
        self.path = data_dir / OUTBOX_DB
        self._conn = private_db(self.path)
        self._conn.execute(_SCHEMA)

    def servers(self) -> list[str]:
        """Every server a screening has been pushed to from this data folder."""
        return [r[0] for r in self._conn.execute("SELECT DISTINCT server FROM pushed ORDER BY server")]

    def pushed_ids(self, server: str) -> set[str]:
        return {
            r[0] for r in self._conn.execute("SELECT result_id FROM pushed WHERE server = ?", (server_key(server),))
        }

    def mark_pushed(self, server: str, locations: Iterable[tuple[str, str]]) -> None:
        """Record (result_id, location) pairs the server accepted, in one transaction."""
        now = store_time()
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT OR REPLACE INTO pushed (result_id, server, pushed_at, location) VALUES (?, ?, ?, ?)",
                [(rid, server_key(server), now, loc) for rid, loc in locations],
            )

    def close(self) -> None:
        self._conn.close()
