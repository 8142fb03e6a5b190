"""Words as the text search sees them, the same for every kind of library.

SQLite's FTS5 (``unicode61 remove_diacritics 2``) makes these tokens itself; a PostgreSQL
server has no ``unaccent`` in every build (pgserver's ships plpgsql and vector only), so the
server library stores each line's tokens made here and indexes those (store/server_text.py).
"""

from __future__ import annotations

import re
import unicodedata


def tokens(text: str) -> list[str]:
    """Lower case, accents removed, split at anything that is not a letter or digit."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return [w for w in re.split(r"[^\w]+|_", plain) if w]
