"""Closed paths for locomotion inside a circular capture area.

A :class:`LoopPath` is a closed planar curve sampled by arc length: a circle, an oval (two
straights joined by half circles) or a rounded triangle. Its curvature profile is smoothed, so
the heading along it has no kinks, and walking past its end starts it again, so a clip of any
length stays inside the area.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "oval", "triangle")
_DS = 0.01   # metres between path samples


@dataclass(frozen=True)
class LoopPath:
    """A closed curve in the world XY plane.

    Attributes:
        xy: (N + 1, 2) metres, samples every ``ds`` of arc length; the last equals the first.
        heading: (N + 1,) radians, tangent direction, unwrapped (ends one full turn later).
        curvature: (N + 1,) 1/metres, > 0 turning left.
        ds: arc length between samples, metres.
    """

    xy: np.ndarray
    heading: np.ndarray
    curvature: np.ndarray
    ds: float

    @property
    def length(self) -> float:
        return self.ds * (len(self.xy) - 1)

    def at(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Point, heading and curvature at arc lengths ``s`` (any shape, metres, any sign).

        Returns (..., 2) world XY, (...,) unwrapped heading, (...,) curvature.
        """
        s = np.asarray(s, dtype=np.float64)
        laps = np.floor(s / self.length)
        grid = (s - laps * self.length) / self.ds
        i = np.clip(np.floor(grid).astype(int), 0, len(self.xy) - 2)
        w = grid - i
        xy = self.xy[i] * (1 - w)[..., None] + self.xy[i + 1] * w[..., None]
        turn = self.heading[-1] - self.heading[0]
        heading = self.heading[i] * (1 - w) + self.heading[i + 1] * w + laps * turn
        curv = self.curvature[i] * (1 - w) + self.curvature[i + 1] * w
        return xy, heading, curv


def loop_from_curvature(kappa: np.ndarray, ds: float = _DS) -> LoopPath:
    """Integrate a periodic curvature profile (N,) into a closed loop centred on its centroid.

    The profile is scaled to turn exactly once; residual closure error is spread along the loop.
    """
    kappa = kappa * (2.0 * np.pi * np.sign(kappa.sum())) / (kappa.sum() * ds)
    heading = np.concatenate([[0.0], np.cumsum(kappa * ds)])            # (N + 1,)
    mid = 0.5 * (heading[:-1] + heading[1:])
    steps = ds * np.column_stack([np.cos(mid), np.sin(mid)])
    xy = np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])  # (N + 1, 2)
    xy -= np.linspace(0.0, 1.0, len(xy))[:, None] * xy[-1]             # close it exactly
    xy -= xy[:-1].mean(axis=0)
    curvature = np.concatenate([kappa, kappa[:1]])
    return LoopPath(xy=xy, heading=heading, curvature=curvature, ds=ds)


def shape_curvature(shape: str, radius: float, straight: float, ds: float = _DS,
                    blend: float = 0.5) -> np.ndarray:
    """(N,) curvature along one lap of a rounded polygon, corners smoothed over ``blend`` m.

    ``shape`` "circle" (one arc), "oval" (two) or "triangle" (three); ``radius`` is the corner
    radius and ``straight`` the length of each straight side, metres.
    """
    sides = {"circle": 1, "oval": 2, "triangle": 3}[shape]
    arc = 2.0 * np.pi * radius / sides
    seg_n = max(int(round((arc + (straight if sides > 1 else 0.0)) / ds)), 8)
    seg = np.zeros(seg_n)
    seg[: max(int(round(arc / ds)), 1)] = 1.0 / radius
    kappa = np.tile(seg, sides)
    width = min(int(round(blend / ds)), len(kappa) // 4)
    if width > 1 and sides > 1:
        window = np.hanning(width + 2)[1:-1]
        window /= window.sum()
        padded = np.concatenate([kappa[-width:], kappa, kappa[:width]])
        kappa = np.convolve(padded, window, mode="same")[width:-width]
    return kappa


def random_loop(rng: np.random.Generator, area_radius: float, min_turn_radius: float,
                shape_weights: tuple[float, float, float] = (0.4, 0.35, 0.25),
                margin: float = 0.25) -> LoopPath:
    """A random loop whose points all lie within ``area_radius - margin`` of the origin.

    Corner radii are at least ``min_turn_radius`` where the area allows (a circle of the
    largest fitting radius otherwise). Direction, orientation and position are random.
    """
    avail = max(area_radius - margin, 0.3)
    weights = np.asarray(shape_weights) / np.sum(shape_weights)
    shape = SHAPES[rng.choice(len(SHAPES), p=weights)]
    fill = rng.uniform(0.8, 1.0)
    corner = {"circle": 1.0, "oval": rng.uniform(0.6, 0.75), "triangle": rng.uniform(0.45, 0.55)}
    radius = max(avail * corner[shape], min_turn_radius)
    if shape == "oval" and radius < 0.9 * avail:
        straight = 2.0 * (avail - radius) * fill
    elif shape == "triangle" and radius < 0.75 * avail:
        straight = np.sqrt(3.0) * (avail - radius) * fill
    else:
        shape, radius, straight = "circle", avail * fill, 0.0
    kappa = shape_curvature(shape, radius, straight)
    if rng.random() < 0.5:
        kappa = -kappa
    loop = loop_from_curvature(kappa)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    xy = loop.xy @ rot.T
    extent = np.linalg.norm(xy, axis=1).max()
    slack = max(avail - extent, 0.0)
    r, phi = slack * np.sqrt(rng.random()), rng.uniform(0.0, 2.0 * np.pi)
    xy = xy + r * np.array([np.cos(phi), np.sin(phi)])
    f = min(avail / extent, 1.0)   # smoothing can bulge a little: shrink the whole loop
    return LoopPath(xy=xy * f, heading=loop.heading + angle, curvature=loop.curvature / f,
                    ds=loop.ds * f)
