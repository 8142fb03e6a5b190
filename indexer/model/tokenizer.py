"""CLIP's tokenizer without torch: open_clip's byte-level BPE as a Hugging Face ``tokenizers`` file."""

from __future__ import annotations

import html
import logging
import mmap
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.base import atomic

log = logging.getLogger(__name__)
TOKENIZER_FILE = "tokenizer.json"
WORDS_FILE = "vocabulary.tsv"  # beside it: the token ids of the vocabulary's whole words (``Words``)
OLD_WORDS_FILE = "words.tsv"  # before: every word ever searched was added, in the shared model cache
# Printable ASCII without "&" (which html.unescape may change) or "<" (which may start a special
# token such as <start_of_text>): ftfy and html.unescape leave it as it is, and words split alone.
PLAIN = re.compile(r"[ -%'-;=-~]*")
# WORD_PATTERN on printable ASCII: letters are [a-z], numbers [0-9].
ASCII_WORDS = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+", re.IGNORECASE)
# open_clip's SimpleTokenizer word pattern, minus the special tokens (matched as added tokens).
WORD_PATTERN = r"(?i)'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
PROBE_STRINGS = (
    "a dog on a beach at sunset", "A RED Car, parked.", "it's the cat's toy; they'll see", "", "   spaced \t out\n text ",
    "café naïve Ünïcödé façade", "日本語のテキスト", "emoji 🐶🌅 mix", "numbers 12 345.67 and 1st", "<b>bold &amp; html</b>",
    "x" * 300, " ".join(["word"] * 120), "don't STOP—believin’", "C++ / C# & $5 @ 10% #tag", "mixedCase CamelCaseWord",
)
class Tokenizer:
    """CLIP's tokenizer (open_clip ``SimpleTokenizer``): ftfy + html clean-up, byte-level BPE.

    A search from the shell tokenizes one short query, and loading the BPE (``tokenizer.json``,
    ~100 ms) and importing ftfy (~60 ms) took more than encoding it. So plain-ASCII text is
    split by the same word pattern and looked up in ``Words``, the ids of this model's
    whole-word vocabulary; the BPE is loaded only for a word not there, or for text that is not
    plain ASCII. Words a person searched for are kept in this process only, never written: the
    model cache is shared by every library and outlives them. tests/indexer/test_runtime.py checks
    the two ways give the same ids.
    """

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self._bpe: Any = None
        self.words = Words(path.with_name(WORDS_FILE))
        self._seen: dict[str, list[int]] = {}  # words outside the vocabulary, this process only
        path.with_name(OLD_WORDS_FILE).unlink(missing_ok=True)  # it held the queries of every library
        self.context_length = int(meta["context_length"])
        self.sot, self.eot = int(meta["sot"]), int(meta["eot"])
        self.lower = meta["clean"] == "lower"

    @property
    def bpe(self) -> Any:
        if self._bpe is None:
            from tokenizers import Tokenizer as HFTokenizer

            self._bpe = HFTokenizer.from_file(str(self.path))
            if not self.words.filled():
                self.words.fill(self._bpe)
        return self._bpe

    def prepare(self) -> None:
        """Load the BPE and ftfy now, for a process that answers many queries (the window, the
        resident search). Loading the BPE holds the GIL for ~130 ms (Hugging Face ``tokenizers``
        parses its JSON without releasing it), which stops every thread: the window froze for
        110-140 ms when the first word outside ``Words`` reached a search on a fresh model cache
        (tests/desktop/test_responsive.py). A one-shot search still loads them only if needed."""
        if self.bpe is not None:
            import ftfy  # noqa: F401  (what the first text that is not plain ASCII would import)

    def clean(self, text: str) -> str:
        if not PLAIN.fullmatch(text):
            import ftfy

            text = html.unescape(html.unescape(ftfy.fix_text(text)))
        text = " ".join(text.strip().split())
        return text.lower() if self.lower else text

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (no start and end tokens)."""
        cleaned = [self.clean(t) for t in texts]
        pieces = [ASCII_WORDS.findall(t) if PLAIN.fullmatch(t) else None for t in cleaned]
        wanted = {p for ps in pieces if ps is not None for p in ps}
        known = {p: self._seen[p] for p in wanted if p in self._seen}
        known |= self.words.ids(wanted - known.keys())
        missing = sorted(wanted - known.keys())
        if missing:
            found = {p: e.ids for p, e in zip(missing, self.bpe.encode_batch(missing, add_special_tokens=False),
                                              strict=True)}
            self._seen.update(found)
            known.update(found)
        out = []
        for text, ps in zip(cleaned, pieces, strict=True):
            out.append([i for p in ps for i in known[p]] if ps is not None
                       else self.bpe.encode(text, add_special_tokens=False).ids)
        return out

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.context_length), np.int64)
        for i, enc in enumerate(self.encode(texts)):
            ids = [self.sot, *enc, self.eot]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.eot
            out[i, : len(ids)] = ids
        return out


class Words:
    """A model's word -> token ids beside its tokenizer: a cache the BPE fills, never the truth (a
    file that cannot be read or written only costs speed).

    One sorted "word<TAB>ids" line per word, searched by bisection in a memory map: a query's
    few words cost microseconds, where loading 40,000 entries would cost ~20 ms. Written by hand
    because the standard library's ``dbm`` backends differ per platform.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def ids(self, words: set[str]) -> dict[str, list[int]]:
        if not words:
            return {}
        try:
            with open(self.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                found = {w: _find(m, w.encode()) for w in words}
        except (OSError, ValueError):  # no cache yet, or an empty file
            return {}
        return {w: [int(i) for i in v.split(b",")] for w, v in found.items() if v is not None}

    def add(self, found: dict[str, list[int]]) -> None:
        try:
            lines = dict(line.split("\t", 1) for line in self.path.read_text().splitlines() if "\t" in line)
        except (OSError, UnicodeDecodeError):
            lines = {}
        lines.update((w, ",".join(map(str, ids))) for w, ids in found.items() if ids)
        try:
            atomic.write_text(self.path, "".join(f"{w}\t{lines[w]}\n" for w in sorted(lines, key=str.encode)))
        except OSError as e:
            log.debug("word cache %s: %s", self.path, e)

    def filled(self) -> bool:
        return self.path.exists()

    def fill(self, bpe: Any) -> None:
        """The plain-ASCII words of the vocabulary, each with the ids the BPE gives it (checked, not assumed)."""
        words = sorted({t[:-4] for t in bpe.get_vocab() if t.endswith("</w>") and PLAIN.fullmatch(t[:-4])
                        and ASCII_WORDS.fullmatch(t[:-4])})
        self.add({w: e.ids for w, e in zip(words, bpe.encode_batch(words, add_special_tokens=False), strict=True)})


def _find(m: mmap.mmap, key: bytes) -> bytes | None:
    """The value of ``key`` in a map of sorted "key<TAB>value" lines, by bisection over byte offsets."""
    lo, hi = 0, len(m)
    while lo < hi:
        mid = (lo + hi) // 2
        start = m.rfind(b"\n", 0, mid) + 1
        end = m.find(b"\n", start)
        end = len(m) if end < 0 else end
        k, _, v = m[start:end].partition(b"\t")
        if k == key:
            return v
        if k < key:
            lo = end + 1
        else:
            hi = start
    return None


def tokenizer_from_open_clip(tok: Any) -> tuple[str, dict[str, Any]] | None:
    """``tokenizer.json`` text and settings for an open_clip SimpleTokenizer (None for others)."""
    if type(tok).__name__ != "SimpleTokenizer" or getattr(tok, "reduction_fn", None) is not None:
        return None
    clean = {"_clean_lower": "lower", "_clean_whitespace": "whitespace"}.get(getattr(tok.clean_fn, "__name__", ""))
    if clean is None:
        return None
    from tokenizers import Regex, models, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer

    merges = [pair for pair, _ in sorted(tok.bpe_ranks.items(), key=lambda kv: kv[1])]
    hf = HFTokenizer(models.BPE(vocab=dict(tok.encoder), merges=merges, end_of_word_suffix="</w>"))
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    hf.add_special_tokens([tok.decoder[i] for i in tok.all_special_ids])
    meta = {"context_length": int(tok.context_length), "sot": int(tok.sot_token_id), "eot": int(tok.eot_token_id),
            "clean": clean}
    return hf.to_str(), meta
