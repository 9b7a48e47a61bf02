"""The cylinder-man body model: which segments are capsules and how thick they are.

Every body segment is a capsule (a cylinder with hemispherical caps) around the line between two
joints of the 17-joint skeleton. A joint's *surface radius* -- the radius used by the visibility
definition to find the joint's front surface point -- is the largest radius among the segments
that touch it.

Radius presets
--------------
``cheng2019``
    As the papers state: every arm and leg segment 5 cm in diameter (radius 0.025 m) and the head
    10 cm in diameter (radius 0.05 m). The papers do not give the torso; occpose's choice,
    recorded here and in every manifest, builds it from capsules: a 0.10 m radius capsule along
    the spine (Hip-Spine-Thorax, so the torso is 0.2 m deep), 0.06 m capsules along each flank
    (hip to shoulder) and across the pelvis, 0.04 m across the shoulders, and a 0.025 m neck.
    Radii do not scale with the subject.
``anthropometric``
    Realistic girths for a 1.75 m adult of average build (upper arm 4.5 cm radius, thigh 7.5 cm,
    head 9.5 cm, ...), scaled by ``height / 1.75`` and by the subject's ``build`` factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import H36M_17, Skeleton

# (segment name, joint a, joint b, radius group) for the 17-joint skeleton.
_H36M_SEGMENTS: tuple[tuple[str, int, int, str], ...] = (
    ("spine_lower", 0, 7, "spine"),
    ("spine_upper", 7, 8, "spine"),
    ("flank_right", 1, 14, "flank"),
    ("flank_left", 4, 11, "flank"),
    ("pelvis", 1, 4, "pelvis"),
    ("shoulders", 11, 14, "shoulders"),
    ("neck", 8, 9, "neck"),
    ("head", 9, 10, "head"),
    ("upper_arm_left", 11, 12, "upper_arm"),
    ("forearm_left", 12, 13, "forearm"),
    ("upper_arm_right", 14, 15, "upper_arm"),
    ("forearm_right", 15, 16, "forearm"),
    ("thigh_right", 1, 2, "thigh"),
    ("shin_right", 2, 3, "shin"),
    ("thigh_left", 4, 5, "thigh"),
    ("shin_left", 5, 6, "shin"),
)

# Radius in metres per group, per preset.
RADIUS_PRESETS: dict[str, dict[str, float]] = {
    "cheng2019": {
        "spine": 0.10, "flank": 0.06, "pelvis": 0.06, "shoulders": 0.04, "neck": 0.025,
        "head": 0.05, "upper_arm": 0.025, "forearm": 0.025, "thigh": 0.025, "shin": 0.025,
    },
    "anthropometric": {
        "spine": 0.12, "flank": 0.085, "pelvis": 0.09, "shoulders": 0.055, "neck": 0.055,
        "head": 0.095, "upper_arm": 0.045, "forearm": 0.037, "thigh": 0.075, "shin": 0.052,
    },
}
REFERENCE_HEIGHT = 1.75  # metres; anthropometric radii are given for this stature
SCALES_WITH_SUBJECT = {"cheng2019": False, "anthropometric": True}


@dataclass(frozen=True)
class Segment:
    """One capsule of the body: the line between joints ``a`` and ``b``, thickened by ``radius``."""

    name: str
    a: int
    b: int
    radius: float  # metres

    def to_dict(self) -> dict:
        return {"name": self.name, "joints": [self.a, self.b], "radius": self.radius,
                "shape": "capsule"}


@dataclass(frozen=True)
class BodyModel:
    """Capsule segments over a skeleton, with per-joint surface radii."""

    preset: str
    skeleton: Skeleton
    segments: tuple[Segment, ...]

    @property
    def seg_a(self) -> np.ndarray:
        """(S,) int index of each segment's first joint."""
        return np.array([s.a for s in self.segments], dtype=np.int64)

    @property
    def seg_b(self) -> np.ndarray:
        """(S,) int index of each segment's second joint."""
        return np.array([s.b for s in self.segments], dtype=np.int64)

    @property
    def radii(self) -> np.ndarray:
        """(S,) float64 segment radii in metres."""
        return np.array([s.radius for s in self.segments], dtype=np.float64)

    @property
    def joint_radius(self) -> np.ndarray:
        """(J,) float64: the largest radius among the segments touching each joint."""
        r = np.zeros(self.skeleton.num_joints)
        for s in self.segments:
            r[s.a] = max(r[s.a], s.radius)
            r[s.b] = max(r[s.b], s.radius)
        return r

    @property
    def incidence(self) -> np.ndarray:
        """(J, S) bool: segment s touches joint j (the joint's *own* segments)."""
        inc = np.zeros((self.skeleton.num_joints, len(self.segments)), dtype=bool)
        for i, s in enumerate(self.segments):
            inc[s.a, i] = inc[s.b, i] = True
        return inc

    def capsules(self, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Capsule end points for poses.

        Args:
            joints: (..., J, 3) joint positions, metres, any frame.
        Returns:
            a, b: (..., S, 3) end points in the same frame; radius: (S,) metres.
        """
        joints = np.asarray(joints)
        return joints[..., self.seg_a, :], joints[..., self.seg_b, :], self.radii

    def to_dict(self) -> dict:
        return {
            "preset": self.preset,
            "skeleton": self.skeleton.name,
            "segments": [s.to_dict() for s in self.segments],
            "joint_radius": [float(r) for r in self.joint_radius],
        }

    @classmethod
    def from_dict(cls, d: dict, skeleton: Skeleton = H36M_17) -> "BodyModel":
        segs = tuple(Segment(s["name"], int(s["joints"][0]), int(s["joints"][1]), float(s["radius"]))
                     for s in d["segments"])
        return cls(preset=str(d["preset"]), skeleton=skeleton, segments=segs)


def body_model(preset: str, height: float = REFERENCE_HEIGHT, build: float = 1.0,
               radii: dict[str, float] | None = None) -> BodyModel:
    """The cylinder-man for a radius preset and a subject.

    Args:
        preset: ``"cheng2019"`` or ``"anthropometric"``.
        height: the subject's stature in metres (used by ``anthropometric`` only).
        build: girth factor, 1.0 = average (used by ``anthropometric`` only).
        radii: per-group radius overrides in metres (groups: the keys of RADIUS_PRESETS[preset]),
            used as given (not scaled).
    """
    if preset not in RADIUS_PRESETS:
        raise KeyError(f"unknown radius preset {preset!r}; expected one of {', '.join(RADIUS_PRESETS)}")
    if height <= 0 or build <= 0:
        raise ValueError(f"height and build must be positive, got {height}, {build}")
    scale = (height / REFERENCE_HEIGHT) * build if SCALES_WITH_SUBJECT[preset] else 1.0
    table = {g: round(r * scale, 6) for g, r in RADIUS_PRESETS[preset].items()}
    for g, r in (radii or {}).items():
        if g not in table:
            raise KeyError(f"unknown segment group {g!r}; expected one of {', '.join(table)}")
        if not r > 0:
            raise ValueError(f"radius of {g} must be positive, got {r}")
        table[g] = float(r)
    segments = tuple(Segment(name, a, b, table[group]) for name, a, b, group in _H36M_SEGMENTS)
    return BodyModel(preset=preset, skeleton=H36M_17, segments=segments)
