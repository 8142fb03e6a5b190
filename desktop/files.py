"""Handing file names to Qt: any name the file system holds, even one that is not UTF-8.

Qt keeps file names as text; a name with bytes that are not UTF-8 (an old Latin-1
drive, a Samba share) has no exact text form. URLs carry bytes, percent-encoded, so
files are opened, shown in the file manager and played through ``file_url``; images
are read by Python (which keeps the bytes) and handed to Qt as data.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, Qt, QUrl
from PySide6.QtGui import QImage, QImageReader

from indexer import display_path as display
from indexer import path_is_text as is_text
from indexer import printable_path


def file_url(path: str) -> QUrl:
    """A ``file://`` URL with the exact bytes of ``path``."""
    if is_text(path):
        return QUrl.fromLocalFile(path)
    return QUrl.fromEncoded(b"file://" + urllib.parse.quote_from_bytes(os.fsencode(path)).encode("ascii"))


def folder_url(path: str) -> QUrl:
    return file_url(str(Path(path).parent))


def load_image(path: str, max_side: int = 0) -> QImage:
    """The picture at ``path`` upright (EXIF orientation applied, as the indexer sees it, so
    boxes found in it land in the right place), at most ``max_side`` px on its long side (the
    decoder scales while reading: a 12 MP JPEG never exists in memory at full size); a null
    image if it cannot be read. A QImage, so it may be read in a worker thread."""
    buffer = QBuffer()
    if is_text(path):
        reader = QImageReader(path)
    else:
        try:
            buffer.setData(QByteArray(Path(path).read_bytes()))
        except OSError:
            return QImage()
        reader = QImageReader(buffer)
    reader.setAutoTransform(True)
    size = reader.size()
    if max_side and size.isValid() and max(size.width(), size.height()) > max_side:
        size.scale(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio)
        reader.setScaledSize(size)
    return reader.read()


def qimage_of(picture) -> QImage:
    """A PIL picture (RGB, as the library's ``views`` decode it in a worker process) as a QImage."""
    data = picture.tobytes()
    w, h = picture.size
    return QImage(data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # copy: ``data`` is freed after


def name_of(path: str) -> str:
    """The file's name as a person reads it, on one line (a newline shows as its symbol)."""
    return printable_path(Path(path).name)


__all__ = ["display", "file_url", "folder_url", "load_image", "name_of", "qimage_of"]
