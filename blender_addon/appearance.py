"""Seeded random looks of a rendered sequence: materials, lights, background (numpy only).

Randomness is explicit: every sampler takes an ``np.random.Generator`` that the pipeline derives
from the sequence key (``occpose.rng.key_rng``), so a sequence looks the same on every rerun and
in every shard. The scene look is drawn per (subject, action, camera) -- the same at every
occlusion level, so levels differ only by their occluders -- and the occluder textures per
sequence. ``randomize = false`` in the preset's ``[render]`` gives one neutral look.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Light:
    """A light: ``kind`` "SUN" or "AREA"; it shines from (azimuth, elevation) radians, world frame.

    ``strength``: sun irradiance W/m^2 or area power W; area lights sit ``distance`` m from the
    point (0, 0, 1) m and are ``size`` m wide.
    """

    kind: str
    azimuth: float
    elevation: float
    strength: float
    color: tuple[float, float, float]
    distance: float = 0.0
    size: float = 0.0


@dataclass(frozen=True)
class Appearance:
    """The look of one rendered scene (RGB in [0, 1], linear).

    The subject is dressed: ``skin_color`` on head, neck and forearms, ``body_color`` (a top) on
    the torso and upper arms, ``bottom_color`` (trousers) on the legs. Left-side garments are
    brightened by ``left_tint`` (a two-tone outfit), so an image model can tell left from right,
    which a uniformly coloured cylinder-man does not allow.
    """

    body_color: tuple[float, float, float]
    body_roughness: float
    floor_colors: tuple[tuple[float, float, float], tuple[float, float, float]]
    floor_scale: float  # checker squares per metre
    backdrop_color: tuple[float, float, float]
    world_color: tuple[float, float, float]
    world_strength: float
    lights: tuple[Light, ...]
    studio_rotation: float  # Workbench: rotation of the studio light about z, radians
    skin_color: tuple[float, float, float] = (0.8, 0.6, 0.48)
    bottom_color: tuple[float, float, float] = (0.2, 0.22, 0.3)
    left_tint: float = 1.5

    def segment_color(self, name: str) -> tuple[float, float, float]:
        """Colour of a body segment by its name (``occpose.body`` segment names)."""
        if name in ("head", "neck") or name.startswith("forearm"):
            base = self.skin_color
        elif name.startswith(("thigh", "shin")):
            base = self.bottom_color
        else:
            base = self.body_color
        if name.endswith("_left") and base is not self.skin_color:
            return tuple(round(min(1.0, c * self.left_tint + 0.05), 6) for c in base)
        return base


@dataclass(frozen=True)
class OccluderTextures:
    """Per-primitive texture variation: noise ``scale`` (O,) per metre, ``contrast`` (O,) in [0, 1),
    ``roughness`` (O,)."""

    scale: np.ndarray
    contrast: np.ndarray
    roughness: np.ndarray


NEUTRAL = Appearance(
    body_color=(0.6, 0.45, 0.35), body_roughness=0.6,
    floor_colors=((0.35, 0.35, 0.35), (0.3, 0.3, 0.3)), floor_scale=1.0,
    backdrop_color=(0.5, 0.5, 0.5), world_color=(0.05, 0.05, 0.05), world_strength=1.0,
    lights=(Light("SUN", 0.8, 0.9, 3.0, (1.0, 1.0, 1.0)),), studio_rotation=0.0)


def _color(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float],
           hue: tuple[float, float] = (0.0, 1.0)):
    """An RGB colour from HSV drawn uniformly in the ranges (hue, then saturation, then value)."""
    rgb = colorsys.hsv_to_rgb(rng.uniform(*hue), rng.uniform(*sat), rng.uniform(*val))
    return tuple(round(float(c), 6) for c in rgb)


def sample_appearance(rng: np.random.Generator, randomize: bool = True) -> Appearance:
    """A random scene look (or :data:`NEUTRAL` when ``randomize`` is False)."""
    if not randomize:
        return NEUTRAL
    floor = _color(rng, (0.0, 0.4), (0.15, 0.6))
    shade = float(rng.uniform(0.6, 0.9))
    lights = [Light("SUN", float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(0.5, 1.4)),
                    float(rng.uniform(0.8, 3.0)), _color(rng, (0.0, 0.15), (0.9, 1.0)))]
    for _ in range(int(rng.integers(0, 3))):
        lights.append(Light("AREA", float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(0.2, 1.0)),
                            float(rng.uniform(100.0, 500.0)), _color(rng, (0.0, 0.3), (0.8, 1.0)),
                            distance=float(rng.uniform(2.5, 5.0)), size=float(rng.uniform(0.5, 3.0))))
    return Appearance(
        body_color=_color(rng, (0.1, 0.8), (0.15, 0.9)),
        body_roughness=float(rng.uniform(0.3, 0.9)),
        floor_colors=(floor, tuple(round(c * shade, 6) for c in floor)),
        floor_scale=float(rng.uniform(0.5, 3.0)),
        backdrop_color=_color(rng, (0.0, 0.6), (0.1, 0.8)),
        world_color=_color(rng, (0.0, 0.5), (0.02, 0.3)),
        world_strength=float(rng.uniform(0.2, 1.0)),
        lights=tuple(lights),
        studio_rotation=float(rng.uniform(-np.pi, np.pi)),
        skin_color=_color(rng, (0.25, 0.6), (0.25, 0.9), hue=(0.03, 0.09)),
        bottom_color=_color(rng, (0.1, 0.7), (0.08, 0.6)),
        left_tint=float(rng.uniform(1.35, 1.8)))


def sample_occluder_textures(rng: np.random.Generator, n: int, randomize: bool = True) -> OccluderTextures:
    """Texture variation for ``n`` occluder primitives (colours come from the OccluderSet)."""
    if not randomize:
        return OccluderTextures(np.full(n, 4.0), np.zeros(n), np.full(n, 0.6))
    return OccluderTextures(scale=rng.uniform(2.0, 15.0, n), contrast=rng.uniform(0.1, 0.5, n),
                            roughness=rng.uniform(0.2, 0.95, n))
