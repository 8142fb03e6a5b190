"""CLIP's tokenizer without torch: open_clip's byte-level BPE as a Hugging Face ``tokenizers`` file."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER_FILE = "tokenizer.json"
# open_clip's SimpleTokenizer word pattern, minus the special tokens (matched as added tokens).
WORD_PATTERN = r"(?i)'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
PROBE_STRINGS = (
    "a dog on a beach at sunset", "A RED Car, parked.", "it's the cat's toy; they'll see", "", "   spaced \t out\n text ",
    "café naïve Ünïcödé façade", "日本語のテキスト", "emoji 🐶🌅 mix", "numbers 12 345.67 and 1st", "<b>bold &amp; html</b>",
    "x" * 300, " ".join(["word"] * 120), "don't STOP—believin’", "C++ / C# & $5 @ 10% #tag", "mixedCase CamelCaseWord",
)
class Tokenizer:
    """CLIP's tokenizer (open_clip ``SimpleTokenizer``): ftfy + html clean-up, byte-level BPE."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self.bpe = HFTokenizer.from_file(str(path))
        self.context_length = int(meta["context_length"])
        self.sot, self.eot = int(meta["sot"]), int(meta["eot"])
        self.lower = meta["clean"] == "lower"

    def clean(self, text: str) -> str:
        import ftfy

        text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
        text = " ".join(text.split())
        return text.lower() if self.lower else text

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.context_length), np.int64)
        encoded = self.bpe.encode_batch([self.clean(t) for t in texts], add_special_tokens=False)
        for i, enc in enumerate(encoded):
            ids = [self.sot, *enc.ids, self.eot]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.eot
            out[i, : len(ids)] = ids
        return out


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
