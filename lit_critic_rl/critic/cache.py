"""On-disk critique cache (sqlite): key = hash of (backend identity, model, template version, prompt, response).

Raw critic outputs are stored and re-parsed on a hit (parsing is deterministic and cheap), so parser fixes apply to
cached critiques too. Only successful calls are cached; failures are retried next time.

Several processes (the ranks of a DDP run) may share one cache file: it is opened in WAL mode, where readers never
block and writers take turns, and a writer waits up to ``timeout`` seconds for the lock instead of failing. Switching a
new file to WAL needs the file to itself, and when several processes open it at the same moment SQLite can answer
"database is locked" at once instead of waiting (its deadlock avoidance skips the busy handler), so that step is
retried until ``timeout``. A key's row
is written once (``INSERT OR IGNORE``: the first answer stored wins), so two ranks that critique the same text at once
leave one row, and a reader never sees it change.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path


def cache_key(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


class CritiqueCache:
    def __init__(self, path: str | Path, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS critiques (key TEXT PRIMARY KEY, raw TEXT NOT NULL)")
                self._db.commit()
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    self._db.close()
                    raise sqlite3.OperationalError(f"critique cache {self.path}: {error}") from error
                time.sleep(0.02)

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(f"SELECT key, raw FROM critiques WHERE key IN ({marks})", chunk).fetchall())
        return found

    def put_many(self, items: dict[str, str]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO critiques VALUES (?, ?)", list(items.items()))
        self._db.commit()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM critiques").fetchone()[0]

    def close(self) -> None:
        self._db.close()
