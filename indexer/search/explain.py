"""Why a result matched, in one line: the evidence every ``Hit`` carries, put into words.

Shared by the CLI (after each result) and the app (under the preview), so both say the same.
"""

from __future__ import annotations

from indexer.base.config import format_seconds
from indexer.base.paths import printable
from indexer.media.regions import region_name
from indexer.search.rank import Hit


def why_matched(hit: Hit) -> str:
    """E.g. "matched: region top left · 0.71 / whole photo 0.52", "matched: the frame at 0:42 · 0.80;
    example image 70 % / words 30 %", "matched: whole photo · 0.64; the words “SALE”"."""
    if hit.region is not None:
        what = f"region {region_name(hit.region)} · {hit.score:.2f}"
        if hit.whole_score is not None:
            what += f" / whole photo {hit.whole_score:.2f}"
    elif hit.kind == "video":
        what = f"the frame at {format_seconds(hit.timestamp)} · {hit.score:.2f}"
    else:
        what = f"whole photo · {hit.score:.2f}"
    parts = [what]
    if hit.text:
        parts.append(f"the words “{printable(hit.text)}”")
    if hit.image_share is not None:
        image = round(100 * hit.image_share)
        parts.append(f"example image {image} % / words {100 - image} %")
    return "matched: " + "; ".join(parts)
