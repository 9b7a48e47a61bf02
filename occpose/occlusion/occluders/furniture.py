"""Furniture-like compounds of primitives: table, chair, shelf, sofa.

Each builder returns the parts in the occluder *local frame* (metres, x lateral, y towards the
camera, z up): the piece stands on z = 0, centred in x, its back face on y = 0 and its body at
y >= 0. Parts are axis-aligned boxes and z-axis cylinders, as ``(shapes, centres, sizes, shades)``
with sizes in the :mod:`.geometry` convention and a shade factor per part (legs darker).
"""

from __future__ import annotations

import numpy as np

from .geometry import BOX, CYLINDER

Parts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class _Builder:
    def __init__(self) -> None:
        self.shape, self.centre, self.size, self.shade = [], [], [], []

    def box(self, centre, half, shade=1.0) -> None:
        self.shape.append(BOX)
        self.centre.append(centre)
        self.size.append(half)
        self.shade.append(shade)

    def leg(self, rng_round: bool, x, y, height, r, shade=0.7) -> None:
        """A vertical leg from the floor to ``height`` at (x, y): a cylinder or a square box."""
        self.shape.append(CYLINDER if rng_round else BOX)
        self.centre.append((x, y, height / 2))
        self.size.append((r, r, height / 2))
        self.shade.append(shade)

    def parts(self) -> Parts:
        return (np.array(self.shape, np.int8), np.array(self.centre, np.float64),
                np.array(self.size, np.float64), np.array(self.shade, np.float64))


def _legs(b: _Builder, rng, w, d, height, r) -> None:
    """Four legs under a w x d rectangle (half extents) whose back edge lies on y = 0."""
    round_legs = bool(rng.random() < 0.5)
    for sx in (-1, 1):
        for y in (r, 2 * d - r):
            b.leg(round_legs, sx * (w - r), y, height, r)


def table(rng: np.random.Generator) -> Parts:
    """A table: top and four legs."""
    b = _Builder()
    w, d = rng.uniform(0.4, 0.85), rng.uniform(0.3, 0.5)
    height, top = rng.uniform(0.7, 0.8), rng.uniform(0.02, 0.035)
    _legs(b, rng, w, d, height - 2 * top, rng.uniform(0.02, 0.04))
    b.box((0, d, height - top), (w, d, top))
    return b.parts()


def chair(rng: np.random.Generator) -> Parts:
    """A chair: seat, four legs and a backrest on the seat's y = 0 edge."""
    b = _Builder()
    w, d = rng.uniform(0.2, 0.27), rng.uniform(0.2, 0.26)
    seat_h, seat_t, back_h = rng.uniform(0.42, 0.48), 0.025, rng.uniform(0.4, 0.55)
    r = rng.uniform(0.015, 0.025)
    _legs(b, rng, w, d, seat_h - 2 * seat_t, r)
    b.box((0, d, seat_h - seat_t), (w, d, seat_t))
    b.box((0, 0.02, seat_h + back_h / 2), (w, 0.02, back_h / 2), shade=0.9)
    return b.parts()


def shelf(rng: np.random.Generator) -> Parts:
    """A bookshelf: two sides, top, bottom, 1-3 boards, optional back panel (on y = 0)."""
    b = _Builder()
    w, d, h = rng.uniform(0.35, 0.75), rng.uniform(0.14, 0.22), rng.uniform(1.2, 2.0)
    t = 0.018
    for sx in (-1, 1):
        b.box((sx * (w - t), d, h / 2), (t, d, h / 2), shade=0.85)
    n_boards = int(rng.integers(1, 4))
    for z in np.linspace(t, h - t, n_boards + 2):
        b.box((0, d, z), (w - 2 * t, d, t))
    if rng.random() < 0.5:
        b.box((0, t / 2, h / 2), (w - 2 * t, t / 2, h / 2 - t), shade=0.8)
    return b.parts()


def sofa(rng: np.random.Generator) -> Parts:
    """A sofa-like block: seat base, backrest along y = 0, two arms."""
    b = _Builder()
    w, d = rng.uniform(0.7, 1.1), rng.uniform(0.4, 0.48)
    seat_h, back_h, back_t, arm_w = rng.uniform(0.38, 0.46), rng.uniform(0.75, 0.9), 0.1, 0.1
    arm_h = rng.uniform(0.55, 0.65)
    b.box((0, d, seat_h / 2), (w, d, seat_h / 2))
    b.box((0, back_t, back_h / 2), (w, back_t, back_h / 2), shade=0.85)
    for sx in (-1, 1):
        b.box((sx * (w - arm_w), d, arm_h / 2), (arm_w, d, arm_h / 2), shade=0.9)
    return b.parts()


FURNITURE = {"table": table, "chair": chair, "shelf": shelf, "sofa": sofa}
