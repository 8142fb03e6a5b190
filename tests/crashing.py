"""A real native crash inside decoding, for the tests of crash containment: a ``sitecustomize`` put on a
process's path makes PIL's opening of a marked JPEG read memory at address 0 through ctypes — a
segmentation fault inside decoding, as the libjpeg/libtiff/LibRaw bugs of issue #36 give. The mark
goes after the JPEG's end, where every other reader ignores it."""

from __future__ import annotations

MARK = b"GLIMPSE-TEST-CRASH"
HOOK = f'''
import ctypes
from pathlib import Path

from PIL import Image

_open = Image.open


def _crashing_open(fp, *args, **kwargs):
    name = fp if isinstance(fp, (str, Path)) else getattr(fp, "name", None)
    if name is not None and {MARK!r} in Path(name).read_bytes()[-64:]:
        ctypes.string_at(0)  # a segmentation fault inside decoding, as a decoder's bug gives
    return _open(fp, *args, **kwargs)


Image.open = _crashing_open
'''
