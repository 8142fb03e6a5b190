"""The preview pane: a larger picture with its details, or a video player at the moment."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDesktopServices, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.files import display, file_url, folder_url, load_image, name_of, qimage_of
from desktop.workers import Worker, start
from indexer import FileRow, Hit, Library, TextRow, format_seconds, why_matched

PREVIEW_SIDE = 1600  # px: sharp on a large preview pane, and never a full 12 MP decode
REGION_COLOUR = QColor(0, 220, 255)  # the frame around the part of a photo that matched


class Preview(QWidget):
    """Shows one hit. For a video it plays from the hit's timestamp and lists other moments."""

    more_like_this = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hit: Hit | None = None
        self.player = None
        self.playback_error: str | None = None  # why videos cannot play here (a missing system library)
        self._pixmap: QPixmap | None = None
        self.picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, minimumHeight=240)
        self.picture.setSizePolicy(self.picture.sizePolicy().horizontalPolicy(),
                                   self.picture.sizePolicy().verticalPolicy())
        self.video_area = QWidget()
        self.video_layout = QVBoxLayout(self.video_area)
        self.video_layout.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.picture)
        self.stack.addWidget(self.video_area)
        self.details = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.why = QLabel(wordWrap=True)  # one line: why this result matched (the region is framed on the picture)
        self.why.setToolTip("The part of the photo that matched best, its score, and the whole photo's")
        self.text_label = QLabel("Text in the picture", visible=False)
        self.text = QPlainTextEdit(readOnly=True, maximumHeight=90, visible=False)  # select and copy
        self.text.setToolTip("The words Glimpse read in this picture; select them to copy")
        self.lines: list[TextRow] = []
        self.moments = QListWidget(maximumHeight=90, visible=False)
        self.moments.itemActivated.connect(lambda it: self.seek(it.data(Qt.ItemDataRole.UserRole)))
        self.moments.itemClicked.connect(lambda it: self.seek(it.data(Qt.ItemDataRole.UserRole)))
        open_btn = QPushButton("Open")
        open_btn.clicked.connect(lambda: self.hit and QDesktopServices.openUrl(file_url(self.hit.path)))
        folder_btn = QPushButton("Show in folder")
        folder_btn.clicked.connect(
            lambda: self.hit and QDesktopServices.openUrl(folder_url(self.hit.path)))
        self.similar_btn = QPushButton("More like this")
        self.similar_btn.clicked.connect(lambda: self.hit and self.more_like_this.emit(self.hit))
        buttons = QHBoxLayout()
        for b in (open_btn, folder_btn, self.similar_btn):
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.moments)
        lay.addWidget(self.why)
        lay.addWidget(self.details)
        lay.addWidget(self.text_label)
        lay.addWidget(self.text)
        lay.addLayout(buttons)

    def show_hit(self, hit: Hit, row: FileRow | None, moments: list[Hit], lines: list[TextRow] | None = None,
                 image: QImage | None = None) -> None:
        """``lines``: the text read in the file (None: not read, or reading text is off); ``image``:
        the photo, or a video's frame at the moment, already decoded off the UI thread (``PREVIEW_SIDE``)."""
        self.hit = hit
        self._show_text(hit, lines or [])
        lines = [f"<b>{html.escape(name_of(hit.path))}</b>", html.escape(display(hit.path)), f"score {hit.score:.3f}"]
        if row is not None:
            if row.taken_at or row.mtime:
                when = dt.datetime.fromtimestamp(row.taken_at or row.mtime or 0)
                lines.append(when.strftime("%Y-%m-%d %H:%M"))
            if row.width:
                lines.append(f"{row.width} × {row.height}" + (f", {row.size / 1e6:.1f} MB" if row.size else ""))
            if row.camera:
                lines.append(row.camera)
            if row.lat is not None:
                lines.append(f"GPS {row.lat:.4f}, {row.lon:.4f}")
        if hit.kind == "video":
            lines.append(_when(hit))
        if hit.text:
            lines.append(f"matched the words: <b>“{html.escape(hit.text)}”</b>")
        self.why.setText(html.escape(why_matched(hit)))
        self.details.setText("<br>".join(lines))
        self.similar_btn.setVisible(hit.kind == "photo")
        if hit.kind == "video":
            self._show_video(hit, moments, image)
        else:
            self._stop_video()
            self.moments.hide()
            self._pixmap = QPixmap.fromImage(image) if image is not None else QPixmap()  # decoded by the loader only
            self.stack.setCurrentIndex(0)
            self._fit_picture()

    def _fit_picture(self) -> None:
        pix = getattr(self, "_pixmap", None)
        if pix is None or pix.isNull():
            self.picture.setText("(no preview)" if pix is not None else "")
            return
        box = self.picture.size().expandedTo(QSize(320, 240))  # before the first layout pass it is 0 x 0
        self.picture.setPixmap(self._with_boxes(pix.scaled(box, Qt.AspectRatioMode.KeepAspectRatio,
                                                           Qt.TransformationMode.SmoothTransformation)))

    def _show_text(self, hit: Hit, lines: list[TextRow]) -> None:
        self.lines = lines
        text = "\n".join((f"{format_seconds(t.ts)}  " if t.ts is not None else "") + t.text for t in lines)
        self.text.setPlainText(text)
        for w in (self.text, self.text_label):
            w.setVisible(bool(lines))

    def _with_boxes(self, pix: QPixmap) -> QPixmap:
        """The picture with the region that matched framed, a thin frame around each line read and
        the matched words highlighted."""
        if self.hit is None or self.hit.kind != "photo" or not (self.lines or self.hit.region):
            return pix
        out = QPixmap(pix)
        p = QPainter(out)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = out.width() / out.devicePixelRatio(), out.height() / out.devicePixelRatio()
        if self.hit.region is not None:
            x0, y0, x1, y1 = self.hit.region
            rect = QRectF(x0 * w, y0 * h, (x1 - x0) * w, (y1 - y0) * h).adjusted(2, 2, -2, -2)
            p.setPen(QPen(QColor(0, 0, 0, 140), 6))  # a dark halo: the frame shows on light and dark photos
            p.drawRect(rect)
            p.setPen(QPen(REGION_COLOUR, 3))
            p.drawRect(rect)
        for t in self.lines:
            matched = self.hit.text_box is not None and tuple(t.box) == tuple(self.hit.text_box)
            rect = QRectF(t.box[0] * w, t.box[1] * h, (t.box[2] - t.box[0]) * w, (t.box[3] - t.box[1]) * h)
            rect = rect.adjusted(-2, -2, 2, 2)
            if matched:
                p.fillRect(rect, QColor(255, 214, 0, 90))
            p.setPen(QPen(QColor(255, 200, 0) if matched else QColor(255, 255, 255, 150), 3 if matched else 1))
            p.drawRect(rect)
        p.end()
        return out

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        if self.stack.currentIndex() == 0:
            self._fit_picture()

    def plays_video(self) -> bool:
        """Whether videos play here (else a video's moment is shown as a still the caller loads)."""
        return self._ensure_player()

    def _ensure_player(self) -> bool:
        """Make the video player once; False where Qt's multimedia cannot load on this system
        (e.g. no PulseAudio client library), which ``playback_error`` then names."""
        if self.player is not None:
            return True
        if self.playback_error is not None:
            return False
        try:
            from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer, QVideoSink
        except (ImportError, OSError) as e:  # a missing system library: play nothing, show the still
            self.playback_error = str(e).split(":")[0] + " is missing" if ".so" in str(e) else str(e)
            return False

        # Frames are painted into a label from a video sink: QVideoWidget's native
        # surface stays blank on software-only X servers and in screenshots.
        self.video_widget = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.video_widget.setMinimumSize(160, 120)
        self.video_widget.setStyleSheet("background: black")
        self.video_layout.addWidget(self.video_widget, 1)
        self.player = QMediaPlayer(self)
        self.audio = QAudioOutput(self)
        self.player.setAudioOutput(self.audio)
        self.sink = QVideoSink(self)
        self.sink.videoFrameChanged.connect(self._on_frame)
        self.player.setVideoSink(self.sink)
        self._pending_seek: int | None = None
        self._moment_ms = 0
        self.player.mediaStatusChanged.connect(self._on_status)
        self.play_button = QPushButton("Pause")
        self.play_button.clicked.connect(self.toggle_play)
        self.scrubber = QSlider(Qt.Orientation.Horizontal)
        self.scrubber.sliderMoved.connect(self.player.setPosition)
        self.time_label = QLabel("0:00")
        self.player.durationChanged.connect(lambda d: self.scrubber.setRange(0, d))
        self.player.positionChanged.connect(self._on_position)
        self.player.playbackStateChanged.connect(
            lambda st: self.play_button.setText("Pause" if st == QMediaPlayer.PlaybackState.PlayingState else "Play"))
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.scrubber, 1)
        controls.addWidget(self.time_label)
        self.video_layout.addLayout(controls)
        return True

    def _show_video(self, hit: Hit, moments: list[Hit], still: QImage | None) -> None:
        self.moments.clear()
        for m in sorted(moments, key=lambda h: h.timestamp or 0):
            span = f"{format_seconds(m.start)}–{format_seconds(m.end)}"
            it = QListWidgetItem(f"{format_seconds(m.timestamp)}  ({span})  score {m.score:.2f}")
            it.setData(Qt.ItemDataRole.UserRole, m.timestamp or 0.0)
            self.moments.addItem(it)
        self.moments.setVisible(len(moments) > 1)
        if not self._ensure_player():  # the moment as a still; "Open" plays it in the system's player
            self.details.setText(self.details.text() + "<br><i>Video playback is not available here ("
                                 + html.escape(self.playback_error or "") + "); showing the frame at the moment.</i>")
            self._pixmap = QPixmap.fromImage(still) if still is not None else None
            self.stack.setCurrentIndex(0)
            self._fit_picture()
            return
        self.stack.setCurrentIndex(1)
        target = int((hit.timestamp or 0) * 1000)
        self._moment_ms = target
        url = file_url(hit.path)
        if self.player.source() != url:
            self._pending_seek = target  # applied once the media has loaded
            self.player.setSource(url)
        else:
            self._pending_seek = None
        self.player.setPosition(target)
        self.player.play()

    def _on_status(self, status) -> None:
        from PySide6.QtMultimedia import QMediaPlayer

        if status in (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia) \
                and self._pending_seek is not None:
            self.player.setPosition(self._pending_seek)
            self._pending_seek = None
        elif status == QMediaPlayer.MediaStatus.EndOfMedia:
            # back to the moment, paused, rather than a blank surface
            self.player.setPosition(self._moment_ms)
            self.player.pause()

    def _on_frame(self, frame) -> None:
        img = frame.toImage()
        if not img.isNull():
            self.video_widget.setPixmap(QPixmap.fromImage(img).scaled(
                self.video_widget.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))

    def _on_position(self, ms: int) -> None:
        if not self.scrubber.isSliderDown():
            self.scrubber.setValue(ms)
        self.time_label.setText(format_seconds(ms / 1000))

    def toggle_play(self) -> None:
        from PySide6.QtMultimedia import QMediaPlayer

        if self.player is None:
            return
        if self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.player.play()

    def seek(self, ts: float) -> None:
        if self.player is not None:
            self.player.setPosition(int(ts * 1000))
            self.player.play()

    def position(self) -> float | None:
        """Where the player is, in seconds (None before any video was shown)."""
        return None if self.player is None else self.player.position() / 1000

    def _stop_video(self) -> None:
        if self.player is not None:
            self.player.stop()


def _when(hit: Hit) -> str:
    """Where in a video the hit is: its moment and best frame, or (words read in a frame, which
    belong to no moment) the frame's time alone."""
    if hit.start is None:
        return f"at {format_seconds(hit.timestamp)}"
    return f"moment {format_seconds(hit.start)}–{format_seconds(hit.end)}, best at {format_seconds(hit.timestamp)}"


class PreviewLoader:
    """Fills the preview for the current hit: the file's details, its text and the picture are read
    off the UI thread; a newer selection wins (by generation)."""

    def __init__(self, library: Library, preview: Preview, hits: Callable[[], list[Hit]]) -> None:
        self.library, self.preview, self._hits = library, preview, hits
        self.closing = False
        self._generation = 0

    def show(self, hit: Hit) -> None:
        others = [h for h in self._hits() if h.path == hit.path and h.kind == "video"]
        self._generation += 1
        gen = self._generation
        still = hit.kind == "video" and not self.preview.plays_video()  # the moment's frame, where videos cannot play
        lib = self.library
        w = Worker(lambda: (lib.file_info(hit.path), lib.text_of(hit.path), self._picture(hit, still)))
        w.signals.result.connect(lambda got: self._show(hit, others, *got) if gen == self._generation else None)
        w.signals.error.connect(lambda _e: self._show(hit, others, None, None, None) if gen == self._generation else None)
        start(w)

    def _picture(self, hit: Hit, still: bool) -> QImage | None:
        """Off the UI thread. None where there is no picture to show: a video that plays, or a file that
        cannot be read or crashed its decoder (in the library's worker process: the app goes on)."""
        try:
            if hit.kind == "photo":
                return qimage_of(self.library.views.picture(hit.path, PREVIEW_SIDE))
            return load_image(str(self.library.views.thumbnail(hit)), PREVIEW_SIDE) if still else None
        except Exception:  # noqa: BLE001 - the details and words are shown all the same
            return None

    def _show(self, hit: Hit, others: list[Hit], row, lines, image) -> None:
        if not self.closing:
            self.preview.show()
            self.preview.show_hit(hit, row, others, lines, image)
