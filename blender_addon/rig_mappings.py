"""Bone -> Human3.6M-17 joint mappings of common rigs, and mapping files for any rig (no bpy).

A joint is a bone end (``head`` or ``tail``) or the mean of several bone ends. Built in:

* ``rigify``: the Rigify human metarig and generated Rigify rigs (``DEF-`` and ``ORG-`` bones
  are tried after the metarig name);
* ``mixamo``: Mixamo rigs (``mixamorig:Hips``, any prefix before the last ``:``, or none).

A mapping file (TOML) names every joint it maps under ``[joints]``, e.g. ::

    [joints]
    Hip = ["pelvis", "head"]
    Head = ["head", "tail"]
    Thorax = [["clavicle_l", "head"], ["clavicle_r", "head"]]   # the mean of two bone ends
    "Neck/Nose" = ["neck", "tail"]                              # quoted (a slash in the name)

Joint names are those of ``occpose.skeleton.H36M_17`` (Hip, RHip, RKnee, RFoot, LHip, LKnee,
LFoot, Spine, Thorax, Neck/Nose, Head, LShoulder, LElbow, LWrist, RShoulder, RElbow, RWrist).
Every problem is a one-line :class:`~occpose.errors.ConfigError` naming the file, joint or bone.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from occpose.errors import ConfigError
from occpose.skeleton import H36M_17

JOINTS = H36M_17.joint_names
ENDS = ("head", "tail")
Point = tuple[str, str]  # (bone name, "head" | "tail")


def _sided(table: dict[str, tuple[str, str]], left: str, right: str) -> dict[str, list[Point]]:
    out = {}
    for joint, (bone, end) in table.items():
        out[joint] = [(bone.replace("{side}", right if joint.startswith("R") else left), end)]
    return out


RIGIFY = _sided({
    "Hip": ("spine", "head"), "RHip": ("thigh.{side}", "head"), "RKnee": ("shin.{side}", "head"),
    "RFoot": ("foot.{side}", "head"), "LHip": ("thigh.{side}", "head"), "LKnee": ("shin.{side}", "head"),
    "LFoot": ("foot.{side}", "head"), "Spine": ("spine.002", "head"), "Thorax": ("spine.004", "head"),
    "Neck/Nose": ("spine.006", "head"), "Head": ("spine.006", "tail"),
    "LShoulder": ("upper_arm.{side}", "head"), "LElbow": ("forearm.{side}", "head"),
    "LWrist": ("hand.{side}", "head"), "RShoulder": ("upper_arm.{side}", "head"),
    "RElbow": ("forearm.{side}", "head"), "RWrist": ("hand.{side}", "head"),
}, "L", "R")

MIXAMO = _sided({
    "Hip": ("Hips", "head"), "RHip": ("{side}UpLeg", "head"), "RKnee": ("{side}Leg", "head"),
    "RFoot": ("{side}Foot", "head"), "LHip": ("{side}UpLeg", "head"), "LKnee": ("{side}Leg", "head"),
    "LFoot": ("{side}Foot", "head"), "Spine": ("Spine1", "head"), "Thorax": ("Neck", "head"),
    "Neck/Nose": ("Head", "head"), "Head": ("Head", "tail"),
    "LShoulder": ("{side}Arm", "head"), "LElbow": ("{side}ForeArm", "head"),
    "LWrist": ("{side}Hand", "head"), "RShoulder": ("{side}Arm", "head"),
    "RElbow": ("{side}ForeArm", "head"), "RWrist": ("{side}Hand", "head"),
}, "Left", "Right")

BUILTIN = {"rigify": RIGIFY, "mixamo": MIXAMO}


def _candidates(kind: str, bone: str, bone_names) -> list[str]:
    """The rig's bones that a mapping's bone name stands for, best first."""
    if kind == "rigify":
        return [b for b in (bone, f"DEF-{bone}", f"ORG-{bone}") if b in bone_names]
    if kind == "mixamo":
        return [b for b in bone_names if b.rsplit(":", 1)[-1] == bone]
    return [bone] if bone in bone_names else []


def resolve(mapping: dict[str, list[Point]], bone_names, kind: str = "file"
            ) -> tuple[dict[str, list[Point]], list[str]]:
    """Map the mapping's bone names onto the rig's; returns (resolved joints, unmapped joint
    names in skeleton order)."""
    bone_names = list(bone_names)
    resolved, missing = {}, []
    for joint in JOINTS:
        points = []
        for bone, end in mapping.get(joint, []):
            found = _candidates(kind, bone, bone_names)
            if not found:
                points = []
                break
            points.append((found[0], end))
        if points:
            resolved[joint] = points
        else:
            missing.append(joint)
    return resolved, missing


def load_mapping(path: str | Path) -> dict[str, list[Point]]:
    """Read a mapping file (module docstring); errors name the file and the joint."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: rig mapping file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot read rig mapping file ({e})") from None
    joints = data.get("joints")
    if not isinstance(joints, dict):
        raise ConfigError(f"{path}: expected a [joints] table mapping joint names to [bone, end]")
    mapping = {}
    for joint, value in joints.items():
        if joint not in JOINTS:
            raise ConfigError(f"{path}: unknown joint {joint!r} in [joints]; joints are {', '.join(JOINTS)}")
        items = value if value and isinstance(value[0], list) else [value]
        points = []
        for item in items:
            if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str)
                    or item[1] not in ENDS):
                raise ConfigError(f"{path}: joints.{joint} must be [bone, \"head\"|\"tail\"] or a "
                                  f"list of those, got {value!r}")
            points.append((item[0], item[1]))
        mapping[joint] = points
    return mapping


def choose_mapping(bone_names, mapping_file: str | Path | None = None, rig: str = "auto"
                   ) -> tuple[str, dict[str, list[Point]]]:
    """The mapping for a rig with ``bone_names``: the file if given, else ``rig`` (``rigify``,
    ``mixamo``) or, for ``auto``, the built-in mapping that resolves the most joints.

    Raises:
        ConfigError: listing the joints that stay unmapped, by name.
    """
    bone_names = list(bone_names)
    if mapping_file:
        name, (resolved, missing) = str(mapping_file), resolve(load_mapping(mapping_file), bone_names)
    else:
        if rig != "auto" and rig not in BUILTIN:
            raise ConfigError(f"unknown rig mapping {rig!r}; expected auto, {', '.join(BUILTIN)} "
                              "or a mapping file")
        kinds = list(BUILTIN) if rig == "auto" else [rig]
        tries = {k: resolve(BUILTIN[k], bone_names, k) for k in kinds}
        name = min(kinds, key=lambda k: len(tries[k][1]))
        resolved, missing = tries[name]
    if missing:
        raise ConfigError(f"rig mapping {name!r}: no bone for joints {', '.join(missing)}; "
                          "give a mapping file ([joints] Name = [bone, \"head\"|\"tail\"])")
    return name, resolved
