"""Searching the words read in pictures, alone or blended with the picture search.

* Words in double quotes (``"42.50"``, ``"hauptbahn*"``) must be in the picture: an FTS5
  phrase (a trailing ``*`` makes it a prefix), matched case- and accent-insensitively.
* Unquoted words are matched word by word; a file's text score is the share of the
  query's words (weighted by rarity, IDF) found in its text, so "receipt 42.50" counts
  "42" and "50" for the receipt that shows them even though "receipt" is not printed on it.
* Blend: ``score = 1 - (1 - semantic) * (1 - TEXT_WEIGHT * text)``, a probabilistic "or"
  of the two kinds of evidence. It only adds: a file without text keeps its picture score,
  so ordinary searches rank as before; a picture showing all the words scores 1 and comes
  first; one showing some of them moves up by as much as they are rare.

TEXT_WEIGHT was measured, not guessed (one written word per query, R@1 of a picture showing
it, tuning seed 5101 of tests/textworld.py, 30 queries):

| weight | vit | gap | conv |
|---|---|---|---|
| 0.5 | 29 | 10 | 2 |
| 0.6 | 30 | 15 | 2 |
| 0.8 | 30 | 30 | 5 |
| 0.9 | 30 | 30 | 5 |
| 1.0 | 30 | 30 | 30 |

Each model's calibrated picture scores for its best matches sit at a different height
(conv's are near 1), so any weight below 1 lets one model's confident picture matches
outrank the words; at 1 the words win on every model. tests/indexer/test_text.py keeps
the comparison with the picture search alone, on a held-out seed, for all three.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable

from indexer.base.filters import Filters
from indexer.base.tokens import tokens
from indexer.search.rank import Hit
from indexer.store.database import FileRow, Store, TextPattern, TextRow

TEXT_WEIGHT = 1.0
PHRASE = re.compile(r'"([^"]*)"')
# Words too common to say anything about which picture is meant (they stay in the picture search).
STOPWORDS = frozenset("a an and are at be by for from in into is it of on or the this that to with".split())


@dataclasses.dataclass(frozen=True)
class TextQuery:
    phrases: tuple[str, ...]  # quoted: must be in the picture
    words: str  # everything else, for the picture search and the word blend

    @property
    def semantic_text(self) -> str:
        """What the picture search reads: the words and the phrases, without quotes."""
        return " ".join([self.words, *self.phrases]).strip()


@dataclasses.dataclass(frozen=True)
class TextMatch:
    file_id: int
    score: float  # 0..1: share of the query's words (IDF-weighted) found; 1 for a phrase match
    line: TextRow  # the line that matched best


def parse(text: str | None) -> TextQuery:
    text = text or ""
    phrases = tuple(p.strip() for p in PHRASE.findall(text) if p.strip())
    rest = " ".join(PHRASE.sub(" ", text).replace('"', " ").split())
    return TextQuery(phrases, rest)


def words_of(text: str) -> list[str]:
    """Tokens the way FTS5's unicode61 tokenizer (remove_diacritics 2) makes them: lower case,
    accents removed, split at anything that is not a letter or digit; stopwords dropped."""
    return [w for w in tokens(text) if w not in STOPWORDS]


def _pattern(phrase: str) -> TextPattern:
    """A quoted phrase as the store matches it; a prefix phrase keeps its stopwords (they end it)."""
    if phrase.endswith("*"):
        return TextPattern(tuple(tokens(phrase.rstrip("*"))), prefix=True)
    return TextPattern(tuple(words_of(phrase)))


def phrase_matches(store: Store, phrases: Iterable[str]) -> dict[int, TextMatch] | None:
    """Files whose text holds every phrase (None when there are no phrases: no restriction)."""
    out: dict[int, TextMatch] | None = None
    for phrase in phrases:
        found: dict[int, TextMatch] = {}
        for row, _rank in store.match_text(_pattern(phrase)):
            found.setdefault(row.file_id, TextMatch(row.file_id, 1.0, row))
        out = found if out is None else {f: m for f, m in out.items() if f in found}
    return out


def word_matches(store: Store, words: str) -> dict[int, TextMatch]:
    """Files whose text holds some of ``words``, scored by the IDF-weighted share found."""
    wanted = list(dict.fromkeys(words_of(words)))
    lines_of: dict[str, list[TextRow]] = {t: [r for r, _ in store.match_text(TextPattern((t,)))] for t in wanted}
    if not any(lines_of.values()):
        return {}  # the usual case for a picture search: no counting on its path
    n_files = store.files_with_text()
    idf = {t: math.log(1 + (n_files + 1) / (len({r.file_id for r in rows}) + 0.5)) for t, rows in lines_of.items()}
    total = sum(idf.values())
    per_file: dict[int, dict[int, tuple[TextRow, float]]] = {}  # file -> line id -> (line, idf found in it)
    found_in_file: dict[int, set[str]] = {}
    for t, rows in lines_of.items():
        for r in rows:
            line, got = per_file.setdefault(r.file_id, {}).get(r.id, (r, 0.0))
            per_file[r.file_id][r.id] = (line, got + idf[t])
            found_in_file.setdefault(r.file_id, set()).add(t)
    out = {}
    for fid, lines in per_file.items():
        best = max(lines.values(), key=lambda x: (x[1], x[0].confidence))[0]
        out[fid] = TextMatch(fid, sum(idf[t] for t in found_in_file[fid]) / total, best)
    return out


def with_text(hit: Hit, match: TextMatch | None, weight: float = TEXT_WEIGHT) -> Hit:
    """``hit`` with its text evidence and the blended score (unchanged without a match)."""
    if match is None:
        return hit
    blended = 1.0 - (1.0 - hit.score) * (1.0 - weight * match.score)
    return dataclasses.replace(hit, score=float(blended), text=match.line.text, text_box=match.line.box,
                               text_score=float(match.score))


def line_in_moment(hit: Hit, matches: dict[int, TextMatch]) -> TextMatch | None:
    """A file's match, for a video only when the line was read inside this moment."""
    m = matches.get(hit.file_id)
    if m is None or hit.kind != "video" or m.line.ts is None or hit.start is None:
        return m
    return m if hit.start <= m.line.ts <= (hit.end if hit.end is not None else hit.start) else None


def text_hits(store: Store, tq: TextQuery, filters: Filters, limit: int,
              matches: dict[int, TextMatch] | None) -> list[Hit]:
    """Only the words read in pictures (``--text-only``, or a query of quoted phrases alone);
    ``matches``: the files holding every quoted phrase (``phrase_matches``; None: no phrases)."""
    if tq.words:
        found = word_matches(store, tq.words)
        matches = found if matches is None else {f: found.get(f, m) for f, m in matches.items()}
    if not matches:
        return []
    files = {r.id: r for r in store.filtered(filters)}
    best = sorted((m for f, m in matches.items() if f in files), key=lambda m: (-m.score, -m.line.confidence))
    return [_hit(files[m.file_id], m) for m in best[:limit]]


def _hit(f: FileRow, m: TextMatch) -> Hit:
    return Hit(path=f.path, score=float(m.score), kind=f.kind, timestamp=m.line.ts, file_id=f.id, width=f.width,
               height=f.height, taken_at=f.taken_at, camera=f.camera, text=m.line.text, text_box=m.line.box,
               text_score=float(m.score), file_date=f.mtime)
