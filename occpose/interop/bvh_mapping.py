"""BVH joint mapping: which joints of a BVH file become the 17 Human3.6M joints.

The 17 Human3.6M joints come from named BVH joints (built-in candidates for CMU, Mixamo
``mixamorig:`` and similar schemes, :data:`DEFAULT_MAPPING`; matched case-insensitively,
namespaces before ``:`` ignored), overridden by a TOML mapping file (:func:`read_mapping`).

Where the built-in mapping places the points that BVH skeletons do not share with Human3.6M:

* ``Hip`` (the root) is midway between the two hip joints (``LeftUpLeg``/``RightUpLeg`` ...), as in
  Human3.6M and occpose's body model, where the pelvis-to-hip bones are sideways. A BVH root
  often sits higher (CMU's ``Hips`` is about 10 cm above its hip joints); it is the fallback.
* ``Thorax`` is the base of the neck (``Neck``; CMU's ``Neck`` coincides with ``Spine1``, where
  the shoulders attach; in CMU's other BVH conversion, with ``Chest``/``Chest2``/``lowerneck``/
  ``Neck``/``Head``, the neck base is ``lowerneck`` and ``Neck`` is mid-neck).
* ``Neck/Nose`` and ``Head`` lie on the line from the thorax to the top of the head (the head's
  End Site ``Head_End``, Mixamo's ``HeadTop_End``) at the fractions :data:`NOSE_T` (0.386) and
  :data:`HEAD_T` (0.753) of Human3.6M's mean skeleton (occpose's body model,
  ``occpose.subjects``): thorax -> Neck/Nose 0.0703, Neck/Nose -> Head 0.0669 and Head -> top of
  skull 0.045 of stature. Taking them from the BVH ``Head`` joint instead (the previous rule)
  puts them too high on skeletons with a long neck chain (CMU: ``Neck1``, ``Head``) and too low
  elsewhere. Without ``Neck`` or a head End Site, ``Neck/Nose`` is the ``Head`` joint.

A mapping value is a joint name or ``{from = "A", to = "B", t = 0.6}`` (a point on A->B)::

    [mapping]
    Spine = "Spine2"
    "Neck/Nose" = "Neck1"
    Head = { from = "Head", to = "Head_End", t = 0.5 }

:func:`map_joints` applies a mapping to forward-kinematics positions
(:func:`occpose.interop.bvh.forward_kinematics`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from ..skeleton import H36M_17
from ..subjects import _BONE_FRACTIONS, HEAD_TOP_FRACTION

if TYPE_CHECKING:
    from .bvh import BvhFile

# Human3.6M's thorax -> top-of-skull line (occpose.subjects: bone fractions of stature).
_NECK, _HEAD = _BONE_FRACTIONS[9][0], _BONE_FRACTIONS[10][0]
NOSE_T = _NECK / (_NECK + _HEAD + HEAD_TOP_FRACTION)
HEAD_T = (_NECK + _HEAD) / (_NECK + _HEAD + HEAD_TOP_FRACTION)
ROOT = "<root>"  # mapping candidate: the file's ROOT joint
_TOPS = ("HeadTop_End", "Head_End", "HeadEnd", "Head_Top")
_NECKS = ("lowerneck", "Neck", "Thorax")  # the neck base: CMU's other conversion names it lowerneck
_HIPS = (("LeftUpLeg", "RightUpLeg"), ("LeftHip", "RightHip"), ("LeftThigh", "RightThigh"),
         ("LeftUpperLeg", "RightUpperLeg"), ("lThigh", "rThigh"), ("L_Hip", "R_Hip"))


def _sides(names: dict[str, list]) -> dict[str, list]:
    out = {}
    for target, cands in names.items():
        out["R" + target] = [c.replace("#", "Right").replace("@", "R").replace("%", "r") for c in cands]
        out["L" + target] = [c.replace("#", "Left").replace("@", "L").replace("%", "l") for c in cands]
    return out


DEFAULT_MAPPING: dict[str, list] = {
    "Hip": [(a, b, 0.5) for a, b in _HIPS] + ["Hips", "Hip", "Pelvis", "Root", ROOT],
    **_sides({"Hip": ["#UpLeg", "#Hip", "#Thigh", "#UpperLeg", "%Thigh", "@_Hip"],
              "Knee": ["#Leg", "#Knee", "#LowerLeg", "#Shin", "%Shin", "@_Knee"],
              "Foot": ["#Foot", "#Ankle", "%Foot", "@_Ankle"]}),
    # A candidate at the thorax's position is skipped (CMU's Spine1 = Neck), so CMU gets Spine.
    "Spine": ["Spine1", "Spine", "Chest", "Abdomen", "Torso"],
    "Thorax": ["lowerneck", "Neck", "Thorax", "UpperChest", "Chest2"],
    "Neck/Nose": [(n, t, NOSE_T) for n in _NECKS for t in _TOPS] + ["Head"],
    "Head": [(n, t, HEAD_T) for n in _NECKS for t in _TOPS] + [("Head", t, 0.6) for t in _TOPS],
    **_sides({"Shoulder": ["#Arm", "#UpperArm", "#Shoulder", "%Shldr", "@_Shoulder"],
              "Elbow": ["#ForeArm", "#Elbow", "#LowerArm", "%ForeArm", "@_Elbow"],
              "Wrist": ["#Hand", "#Wrist", "%Hand", "@_Wrist"]}),
}


def read_mapping(path: str | Path) -> dict[str, str | tuple[str, str, float]]:
    """A TOML mapping file's ``[mapping]`` table (module docstring); ConfigError names the key."""
    from ..configio import read_toml

    data = read_toml(path)
    extra = set(data) - {"mapping"}
    if extra or not isinstance(data.get("mapping"), dict):
        raise ConfigError(f"{path}: expected only a [mapping] table"
                          f"{f', found {sorted(extra)}' if extra else ''}")
    out = {}
    for target, value in data["mapping"].items():
        where = f"{path}: 'mapping.{target}'"
        if target not in H36M_17.joint_names:
            raise ConfigError(f"{where}: unknown joint; expected one of {', '.join(H36M_17.joint_names)}")
        if isinstance(value, str):
            out[target] = value
        elif isinstance(value, dict) and set(value) <= {"from", "to", "t"} and {"from", "to"} <= set(value):
            t = value.get("t", 0.5)
            if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
                raise ConfigError(f"{where}.t: must be a number, got {t!r}")
            out[target] = (str(value["from"]), str(value["to"]), float(t))
        else:
            raise ConfigError(f"{where}: must be a joint name or {{from = \"A\", to = \"B\", t = 0.5}}, "
                              f"got {value!r}")
    return out


def _normal(name: str) -> str:
    return name.rsplit(":", 1)[-1].lower()


def map_joints(bvh: BvhFile, positions: np.ndarray, mapping: dict | None = None,
               mapping_source: str = "mapping") -> tuple[np.ndarray, dict[str, str]]:
    """(F, N, 3) BVH joint positions -> (F, 17, 3) Human3.6M joints, and what each came from."""
    from .bvh import BvhError

    exact = {j.name: i for i, j in enumerate(bvh.joints)}
    loose: dict[str, int] = {}
    for i, j in enumerate(bvh.joints):
        loose.setdefault(_normal(j.name), i)

    def find(name: str) -> int | None:
        return exact.get(name, loose.get(_normal(name)))

    def resolve(spec) -> tuple[np.ndarray, str] | None:
        if spec == ROOT:
            return positions[:, 0], bvh.joints[0].name
        if isinstance(spec, str):
            i = find(spec)
            return None if i is None else (positions[:, i], bvh.joints[i].name)
        a, b, t = spec
        ia, ib = find(a), find(b)
        if ia is None or ib is None:
            return None
        return ((1 - t) * positions[:, ia] + t * positions[:, ib],
                f"{t:g}*{bvh.joints[ia].name}->{bvh.joints[ib].name}")

    out = np.zeros((positions.shape[0], H36M_17.num_joints, 3))
    used = {}
    user = mapping or {}
    thorax = None
    if "Thorax" not in user:
        thorax = next((g[0] for g in map(resolve, DEFAULT_MAPPING["Thorax"]) if g is not None), None)
    extent = float(np.ptp(positions.reshape(-1, 3), axis=0).max()) if positions.size else 0.0

    def _same_as_thorax(target: str, point: np.ndarray) -> bool:
        # A spine candidate at the thorax itself (CMU: Spine1 and Neck coincide) is skipped.
        return (target == "Spine" and thorax is not None
                and float(np.abs(point - thorax).max()) <= 1e-6 * max(extent, 1e-12))

    for k, target in enumerate(H36M_17.joint_names):
        if target in user:
            got = resolve(user[target])
            if got is None:
                spec = user[target]
                names = [spec] if isinstance(spec, str) else list(spec[:2])
                missing = [n for n in names if find(n) is None]
                raise BvhError(f"{mapping_source}: 'mapping.{target}' names joint {missing[0]!r}, which "
                               f"{bvh.source} does not have (joints: {_joint_list(bvh)})")
        else:
            cands = (resolve(c) for c in DEFAULT_MAPPING[target])
            got = next((g for g in cands if g is not None and not _same_as_thorax(target, g[0])), None)
            if got is None:
                tried = [c if isinstance(c, str) else f"{c[0]}->{c[1]}" for c in DEFAULT_MAPPING[target]]
                raise BvhError(f"{bvh.source}: no joint for H36M {target!r} (tried {', '.join(tried)}); "
                               f"joints are {_joint_list(bvh)}; map it in a --mapping TOML file")
        out[:, k], used[target] = got
    return out, used


def _joint_list(bvh: BvhFile, limit: int = 40) -> str:
    names = [j.name for j in bvh.joints]
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")
