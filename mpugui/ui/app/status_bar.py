"""The status bar: its permanent widgets (total speed with a small painted
graph, counts of active/queued/failed transfers, the global bandwidth limit)
and its messages, shortened to fit beside them."""

from __future__ import annotations

import collections

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QStatusBar, QWidget

from mpugui.core.states import ACTIVE_STATES, DONE, FAILED, QUEUED, UPLOADING, WAITING
from mpugui.core.transfer.snapshot import EngineSnapshot
from mpugui.core.units import MiB, format_rate
from mpugui.ui.common.messages import MessageBridge
from mpugui.ui.common.palette import state_color

FILES_WINDOW = 3.0  # seconds of finished files the files/s rate is taken over


class SpeedGraph(QWidget):
    """The last minute or so of total speed as a filled sparkline."""

    def __init__(self, samples: int = 120, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.samples: collections.deque[float] = collections.deque(maxlen=samples)
        self.setFixedSize(120, 20)
        self.setToolTip("Total upload speed, most recent on the right")
        self.setAccessibleName("Speed graph")

    def add(self, speed: float) -> None:
        self.samples.append(max(0.0, speed))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(120, 20)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(pal.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(rect, 3, 3)
        data = list(self.samples)
        if len(data) < 2:
            return
        peak = (max(data) or 1.0) * 1.25  # headroom: a steady rate is not a full box
        inner = rect.adjusted(2, 3, -2, -2)
        step = inner.width() / (self.samples.maxlen - 1)  # type: ignore[operator]
        x0 = inner.right() - step * (len(data) - 1)
        line = QPainterPath()
        for i, v in enumerate(data):
            pt = QPointF(x0 + i * step, inner.bottom() - inner.height() * v / peak)
            line.lineTo(pt) if i else line.moveTo(pt)
        area = QPainterPath(line)
        area.lineTo(inner.right(), inner.bottom())
        area.lineTo(x0, inner.bottom())
        area.closeSubpath()
        color = state_color(UPLOADING, pal)
        fill = QColor(color)
        fill.setAlpha(70)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawPath(area)
        painter.setPen(QPen(color, 1.4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(line)


class BandwidthControl(QWidget):
    """Limit in MiB/s (the unit speeds are shown in); 0 means unlimited."""

    limit_changed = Signal(int)  # bytes per second

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        label = QLabel("Limit:")
        self.spin = QDoubleSpinBox()
        self.spin.setObjectName("bandwidthLimit")
        self.spin.setRange(0, 100_000)
        self.spin.setDecimals(1)
        self.spin.setSingleStep(1.0)
        self.spin.setSuffix(" MiB/s")
        self.spin.setSpecialValueText("Unlimited")
        self.spin.setAccelerated(True)
        self.spin.setKeyboardTracking(False)  # apply when typing is finished
        self.spin.setToolTip("Total upload bandwidth for all transfers (0 = unlimited)")
        self.spin.setAccessibleName("Bandwidth limit in MiB per second")
        label.setBuddy(self.spin)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(label)
        layout.addWidget(self.spin)
        self.spin.valueChanged.connect(lambda v: self.limit_changed.emit(int(v * MiB)))

    def set_limit(self, rate: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(rate / MiB)
        self.spin.blockSignals(False)

    def limit(self) -> int:
        return int(self.spin.value() * MiB)


class StatusPanel(QWidget):
    """Permanent widgets on the right of the status bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts = QLabel()
        self.counts.setObjectName("statusCounts")
        self.speed = QLabel()
        self.speed.setObjectName("statusSpeed")
        self.speed.setMinimumWidth(self.fontMetrics().horizontalAdvance("↑ 9999.9 MiB/s") + 6)
        self.speed.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.graph = SpeedGraph()
        self.bandwidth = BandwidthControl()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(10)
        layout.addWidget(self.counts)
        layout.addWidget(self.speed)
        layout.addWidget(self.graph)
        layout.addWidget(self.bandwidth)
        # (snapshot time, files done) over the last few seconds: a folder of
        # empty files moves no bytes, and "idle" would be wrong while it flies
        self._done_at: collections.deque[tuple[float, int]] = collections.deque()
        self.update_from(None)

    def update_from(self, snap: EngineSnapshot | None) -> None:
        if snap is None:
            _set(self.counts, "No transfers")
            _set(self.speed, "")
            return
        # counts and totals the engine keeps: nothing here looks at every transfer
        # (as of now, not as of the table: see EngineSnapshot.live)
        active, queued = snap.live_count(*ACTIVE_STATES), snap.live_count(QUEUED)
        failed, done = snap.live_count(FAILED), snap.live_count(DONE)
        bits = [f"{active} active", f"{queued} queued"]
        if snap.outages:  # a few: one per endpoint that does not answer
            color = state_color(WAITING, self.palette()).name()
            down = snap.outages[0] if len(snap.outages) == 1 else None
            text = (down.sentence().split(". ")[0] if down is not None else
                    f"{len(snap.outages)} endpoints do not answer")
            waiting = snap.live_count(WAITING)
            bits.append(f"<span style='color:{color}'>Network down: {waiting:,} waiting"
                        f" — {text.removeprefix('Waiting for the network — ')}</span>")
        if failed:
            color = state_color(FAILED, self.palette()).name()
            bits.append(f"<span style='color:{color}'>{failed} failed</span>")
        bits.append(f"{done} done")
        _set(self.counts, "  ·  ".join(bits))
        _set(self.speed, self._speed_text(snap, active + queued, done))
        self.graph.add(snap.speed)

    def _speed_text(self, snap: EngineSnapshot, moving: int, done: int) -> str:
        done_at = self._done_at
        done_at.append((snap.time, done))
        while len(done_at) > 2 and snap.time - done_at[1][0] >= FILES_WINDOW:
            done_at.popleft()
        if not moving:  # (queued too: a tick may catch a fast folder's files
            done_at.clear()  # queued or done, none uploading)
            return "↑ idle"
        if snap.speed > 0:
            return f"↑ {format_rate(snap.speed)}"
        t0, done0 = done_at[0]
        span = snap.time - t0
        rate = (done - done0) / span if span >= FILES_WINDOW / 4 else 0.0
        return f"↑ {rate:,.0f} files/s" if rate >= 1 else "↑ 0 B/s"



class MessageFitter(QObject):
    """A sentence longer than the room beside the counts would be cut
    mid-word (1366 px wide, a failure's reason): it is shown shortened,
    whole in the tooltip and in the log view."""

    def __init__(self, bar: QStatusBar, panel: StatusPanel, bridge: MessageBridge) -> None:
        super().__init__(bar)
        self.bar, self.panel, self.bridge = bar, panel, bridge
        self._eliding = False
        bar.messageChanged.connect(self._fit)

    def show(self, text: str, timeout_ms: int) -> None:
        """Show `text` for `timeout_ms` ("" clears the message)."""
        if text:
            self.bar.showMessage(text, timeout_ms)
        else:
            self.bar.clearMessage()

    def _fit(self, text: str) -> None:
        if self._eliding:
            return
        bar = self.bar
        bar.setToolTip(text)
        if not text:
            return
        metrics = bar.fontMetrics()
        room = bar.width() - self.panel.width() - 40
        if metrics.horizontalAdvance(text) <= room:
            return
        self.bridge.post("info", text, source="status")
        hint = " — whole in the log (Ctrl+L)"
        if room - metrics.horizontalAdvance(hint) < 120:
            hint = ""  # too narrow for both: the tooltip and the log have it
        short = metrics.elidedText(text, Qt.TextElideMode.ElideRight,
                                   max(40, room - metrics.horizontalAdvance(hint)))
        self._eliding = True
        try:
            bar.showMessage(short + hint, 20000)
        finally:
            self._eliding = False

def _set(label: QLabel, text: str) -> None:
    """Skip unchanged text: every call into Qt costs on a busy GIL."""
    if label.text() != text:
        label.setText(text)
