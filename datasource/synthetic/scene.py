"""A traffic-like street scene, rendered frame by frame, deterministic from a seed.

Layout (scaled to the frame height; 720p is the reference): buildings and sky on top, a sidewalk where
pedestrians and people with faces walk, and two traffic lanes (left-to-right, right-to-left) with
vehicles carrying licence plates. Plates are random alphanumeric strings rendered with Hershey simplex,
scale 1.4 and thickness 3 at 720p, which PP-OCRv4 reads exactly. How many objects enter and how fast
they move follow a slow per-clip "intensity" curve, so there is something for policies to adapt to.

Every frame comes with its ground truth in frame pixels: ``vehicle``, ``plate``, ``text`` (with the
plate string), ``person`` and ``face`` objects.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

# Letters that Hershey simplex draws like a digit (O/0, I/1, Q/0) are left out, as on many real plates.
PLATE_LETTERS = "".join(c for c in string.ascii_uppercase if c not in "OIQ")
PLATE_ALPHABET = PLATE_LETTERS + string.digits
PLATE_FONT = cv2.FONT_HERSHEY_SIMPLEX
PLATE_SCALE_720P = 1.4
PLATE_THICKNESS_720P = 3
MIN_VISIBLE = 0.6  # share of an object's area that must be in the frame for it to count as truth


@dataclass
class SceneOptions:
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    faces: bool = True
    pedestrians: bool = True
    density: float = 1.0
    """Multiplies how often objects enter the scene."""
    speed: float = 1.0
    """Multiplies how fast objects move."""
    period_s: float = 12.0
    """Period of the intensity curve (density and speed rise and fall over it)."""
    prefill_s: float = 8.0
    """Seconds simulated before the first frame, so a clip starts with a populated street."""
    face_scale: tuple[float, float] = (1.0, 1.0)
    """Each face's size is drawn from this range (times the standard face); equal ends draw nothing."""


@dataclass
class _Mover:
    kind: str  # vehicle | person | face
    x: float
    y: float
    w: int
    h: int
    direction: int  # +1 right, -1 left
    lane: int
    color: tuple[int, int, int]
    plate: str = ""
    phase: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _face_patch() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The astronaut portrait shipped inside scikit-image, and where her face is in it (x1, y1, x2, y2)."""
    from skimage import data  # imported here: only scenes with faces need it

    rgb = data.astronaut()  # type: ignore[no-untyped-call]
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    # Head and shoulders; the face box was measured once with the frontal-face Haar cascade (177, 66, 95x95).
    crop = bgr[20:300, 120:340].copy()
    return crop, (177 - 120, 66 - 20, 177 - 120 + 95, 66 - 20 + 95)


def random_plate(rng: np.random.Generator, length: int | None = None) -> str:
    n = int(length if length is not None else rng.integers(5, 8))
    chars = [PLATE_ALPHABET[int(i)] for i in rng.integers(0, len(PLATE_ALPHABET), n)]
    if not any(c.isalpha() for c in chars):
        chars[0] = PLATE_LETTERS[int(rng.integers(0, len(PLATE_LETTERS)))]
    return "".join(chars)


class Scene:
    """Renders the frames of one clip; call :meth:`render` for frame 0, 1, 2, ... in order."""

    def __init__(self, options: SceneOptions, seed: int) -> None:
        self.o = options
        self.rng = np.random.default_rng(seed)
        self.k = options.height / 720.0  # every size below is given for 720p
        self.frame_no = 0
        self.phase = float(self.rng.uniform(0, 2 * math.pi))
        self.movers: list[_Mover] = []
        self.background = self._background()
        self.face_patch: np.ndarray | None = None
        self.face_box = (0, 0, 0, 0)
        self._faces: dict[float, tuple[np.ndarray, tuple[int, int, int, int]]] = {}
        if options.faces:
            patch, box = _face_patch()
            size = max(8, round(150 * self.k))
            sx, sy = size / patch.shape[1], size * 1.27 / patch.shape[0]
            self.face_patch = cv2.resize(patch, (size, round(size * 1.27)), interpolation=cv2.INTER_AREA)
            self.face_box = (round(box[0] * sx), round(box[1] * sy), round(box[2] * sx), round(box[3] * sy))
        lane_h = 200 * self.k
        self.lane_top = [300 * self.k, 300 * self.k + lane_h + 10 * self.k]
        self.walk_top = 75 * self.k
        self.frame_no = -round(options.prefill_s * options.fps)
        while self.frame_no < 0:
            self._spawn()
            self._move()
            self.frame_no += 1

    # -- static parts -----------------------------------------------------------------------
    def _background(self) -> np.ndarray:
        w, h, k = self.o.width, self.o.height, self.o.height / 720.0
        img = np.empty((h, w, 3), np.uint8)
        img[:] = (205, 180, 150)  # sky
        x = 0
        while x < w:  # buildings
            bw = int(self.rng.integers(60, 160) * k) + 1
            bh = int(self.rng.integers(30, 70) * k)
            shade = int(self.rng.integers(90, 150))
            cv2.rectangle(img, (x, int(80 * k) - bh), (x + bw, int(80 * k)), (shade, shade, shade + 10), -1)
            x += bw + int(self.rng.integers(2, 12) * k)
        img[int(80 * k) : int(295 * k)] = (175, 180, 185)  # sidewalk
        img[int(295 * k) :] = (85, 85, 85)  # road
        mid = int(505 * k)
        for x0 in range(0, w, int(80 * k) + 1):
            cv2.rectangle(img, (x0, mid - int(3 * k)), (x0 + int(40 * k), mid + int(3 * k)), (230, 230, 230), -1)
        noise = self.rng.integers(0, 12, img.shape, dtype=np.uint8)
        return cv2.add(img, noise)

    # -- dynamics ---------------------------------------------------------------------------
    def intensity(self, frame_no: int) -> float:
        """0..1: how busy and how fast the scene is at this frame."""
        t = frame_no / self.o.fps
        return 0.5 + 0.5 * math.sin(2 * math.pi * t / self.o.period_s + self.phase)

    def _spawn(self) -> None:
        level = self.intensity(self.frame_no)
        per_frame = (0.15 + 0.85 * level) * self.o.density / self.o.fps
        k = self.k
        for lane in (0, 1):
            if self.rng.random() < per_frame * 1.2 and self._lane_free(lane, "vehicle", 420 * k):
                w, h = int(360 * k), int(170 * k)
                direction = 1 if lane == 0 else -1
                x = -w + 1.0 if direction > 0 else float(self.o.width - 1)
                y = self.lane_top[lane] + 15 * k
                color = tuple(int(c) for c in self.rng.integers(40, 220, 3))
                self.movers.append(
                    _Mover("vehicle", x, y, w, h, direction, lane, color, plate=random_plate(self.rng))  # type: ignore[arg-type]
                )
        walkers = [kind for kind, on in (("person", self.o.pedestrians), ("face", self.o.faces)) if on]
        if walkers and self.rng.random() < per_frame * 1.6 and self._lane_free(2, "", 190 * k):
            kind = walkers[int(self.rng.integers(0, len(walkers)))]
            if kind == "person":
                w, h = int(100 * k), int(200 * k)
            extra: dict[str, Any] = {}
            if kind == "face":
                patch, box = self._face_of_size()
                h, w = patch.shape[:2]
                extra = {"patch": patch, "box": box}
            color = tuple(int(c) for c in self.rng.integers(20, 90, 3))
            self.movers.append(
                _Mover(kind, -w + 1.0, self.walk_top, w, h, 1, 2, color, phase=float(self.rng.random()), extra=extra)  # type: ignore[arg-type]
            )

    def _face_of_size(self) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """The face patch and its face box for a new walker: the standard one, or one of a drawn size."""
        assert self.face_patch is not None
        low, high = self.o.face_scale
        if low == high == 1.0:  # no draw: clips made before sizes could vary stay the same
            return self.face_patch, self.face_box
        scale = round(float(self.rng.uniform(low, high)), 2)
        cached = self._faces.get(scale)
        if cached is None:
            h, w = self.face_patch.shape[:2]
            size = (max(8, round(w * scale)), max(8, round(h * scale)))
            patch = cv2.resize(self.face_patch, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            sx, sy = size[0] / w, size[1] / h
            box = self.face_box
            cached = (patch, (round(box[0] * sx), round(box[1] * sy), round(box[2] * sx), round(box[3] * sy)))
            self._faces[scale] = cached
        return cached

    def _lane_free(self, lane: int, _kind: str, gap: float) -> bool:
        for m in self.movers:
            if m.lane != lane:
                continue
            entry_edge = m.x if m.direction > 0 else self.o.width - (m.x + m.w)
            if entry_edge < gap:
                return False
        return True

    def _move(self) -> None:
        level = self.intensity(self.frame_no)
        speed = (0.4 + 1.2 * level) * self.o.speed * 30.0 / self.o.fps * self.k
        kept = []
        for m in self.movers:
            base = 9.0 if m.kind == "vehicle" else 2.5
            m.x += m.direction * base * speed
            m.phase += 0.15 * speed
            if -m.w - 2 < m.x < self.o.width + 2:
                kept.append(m)
        self.movers = kept

    # -- drawing ----------------------------------------------------------------------------
    def render(self) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The next frame (BGR) and its ground-truth objects."""
        self._spawn()
        img = self.background.copy()
        truth: list[dict[str, Any]] = []
        for m in sorted(self.movers, key=lambda m: m.lane):
            if m.kind == "vehicle":
                self._draw_vehicle(img, m, truth)
            elif m.kind == "person":
                self._draw_person(img, m, truth)
            else:
                self._draw_face(img, m, truth)
        self._move()
        self.frame_no += 1
        return img, truth

    def _add(self, truth: list[dict[str, Any]], cls: str, box: tuple[float, float, float, float], **more: Any) -> None:
        x1, y1, x2, y2 = box
        area = max(1.0, (x2 - x1) * (y2 - y1))
        cx1, cy1 = max(0.0, x1), max(0.0, y1)
        cx2, cy2 = min(float(self.o.width), x2), min(float(self.o.height), y2)
        if cx2 <= cx1 or cy2 <= cy1:
            return
        cut = more.get("text") is not None and (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2)
        if cut or (cx2 - cx1) * (cy2 - cy1) / area < MIN_VISIBLE:
            # Mostly outside the frame, or a string cut short: a "don't care" region. Finding it is not
            # a false positive and missing it is not a miss (the scoring in common.accuracy skips it).
            more = {"ignore": True}
        truth.append({"class": cls, "box": [round(cx1, 1), round(cy1, 1), round(cx2, 1), round(cy2, 1)], **more})

    def _draw_vehicle(self, img: np.ndarray, m: _Mover, truth: list[dict[str, Any]]) -> None:
        k = self.k
        x, y, w, h = int(m.x), int(m.y), m.w, m.h
        cv2.rectangle(img, (x, y + int(35 * k)), (x + w, y + h - int(20 * k)), m.color, -1)
        cab = (x + int(60 * k), y, x + w - int(60 * k), y + int(40 * k))
        cv2.rectangle(img, cab[:2], cab[2:], m.color, -1)
        cv2.rectangle(
            img, (cab[0] + int(10 * k), y + int(6 * k)), (cab[2] - int(10 * k), y + int(34 * k)), (60, 40, 30), -1
        )
        for wx in (x + int(70 * k), x + w - int(70 * k)):
            cv2.circle(img, (wx, y + h - int(20 * k)), int(22 * k), (20, 20, 20), -1)
        self._add(truth, "vehicle", (m.x, m.y, m.x + w, m.y + h))
        scale, thick = PLATE_SCALE_720P * k, max(1, round(PLATE_THICKNESS_720P * k))
        (tw, th), base = cv2.getTextSize(m.plate, PLATE_FONT, scale, thick)
        pad_x, pad_y = int(14 * k), int(10 * k)
        pw, ph = tw + 2 * pad_x, th + base + 2 * pad_y
        px = int(m.x + (w - pw) / 2)
        py = int(m.y + int(62 * k))
        cv2.rectangle(img, (px, py), (px + pw, py + ph), (245, 245, 245), -1)
        cv2.rectangle(img, (px, py), (px + pw, py + ph), (30, 30, 30), max(1, round(2 * k)))
        org = (px + pad_x, py + pad_y + th)
        cv2.putText(img, m.plate, org, PLATE_FONT, scale, (10, 10, 10), thick, cv2.LINE_AA)
        self._add(truth, "plate", (px, py, px + pw, py + ph))
        self._add(truth, "text", (org[0], org[1] - th - thick, org[0] + tw, org[1] + base), text=m.plate)

    def _draw_person(self, img: np.ndarray, m: _Mover, truth: list[dict[str, Any]]) -> None:
        s = m.h / 200.0
        x, y = m.x, m.y

        def p(a: float, b: float) -> tuple[int, int]:
            return int(x + a * s), int(y + b * s)

        swing = 16 * s * math.sin(m.phase * 2)
        cv2.circle(img, p(50, 22), int(16 * s), (120, 150, 190), -1)
        cv2.ellipse(img, p(50, 75), (int(24 * s), int(42 * s)), 0, 0, 360, m.color, -1)
        arm = max(1, int(10 * s))
        cv2.line(img, p(28, 45), (p(22, 110)[0] + int(swing), p(0, 110)[1]), m.color, arm)
        cv2.line(img, p(72, 45), (p(78, 110)[0] - int(swing), p(0, 110)[1]), m.color, arm)
        leg = max(1, int(14 * s))
        cv2.line(img, p(40, 110), (p(36, 195)[0] + int(swing), p(0, 195)[1]), (60, 50, 40), leg)
        cv2.line(img, p(60, 110), (p(64, 195)[0] - int(swing), p(0, 195)[1]), (60, 50, 40), leg)
        self._add(truth, "person", (x + 15 * s, y + 4 * s, x + 85 * s, y + 200 * s))

    def _draw_face(self, img: np.ndarray, m: _Mover, truth: list[dict[str, Any]]) -> None:
        assert self.face_patch is not None
        patch = m.extra.get("patch", self.face_patch)
        x, y = int(m.x), int(m.y)
        h, w = patch.shape[:2]
        sx1, sy1 = max(0, -x), max(0, -y)
        dx1, dy1 = max(0, x), max(0, y)
        dx2, dy2 = min(self.o.width, x + w), min(self.o.height, y + h)
        if dx2 <= dx1 or dy2 <= dy1:
            return
        img[dy1:dy2, dx1:dx2] = patch[sy1 : sy1 + dy2 - dy1, sx1 : sx1 + dx2 - dx1]
        fx1, fy1, fx2, fy2 = m.extra.get("box", self.face_box)
        self._add(truth, "face", (m.x + fx1, m.y + fy1, m.x + fx2, m.y + fy2))
