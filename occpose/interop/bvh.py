"""BVH motion capture import: parse, forward kinematics, units, axes, joint mapping, resampling.

Conventions (what :func:`load_bvh` does, in order):

* **Kinematics**: a joint's transform is ``M = M_parent @ T(t) @ R(c1) @ R(c2) @ R(c3)`` with
  the rotation channels applied in the order the file lists them (degrees, right-handed). ``t``
  is the joint's OFFSET, or its position channels when it has them (they replace the OFFSET,
  the usual reading: CMU and Mixamo roots have OFFSET 0 or their rest position there). An End
  Site is a joint named ``<parent>_End``.
* **Units**: ``scale`` metres per file unit; by default detected from the rest skeleton's
  extent (0.5-3 -> metres, 50-300 -> centimetres, 500-3000 -> millimetres; anything else asks
  for ``--scale``, e.g. 0.056444 for the CMU conversions, whose unit is 1/0.45 inch).
* **Axes**: BVH is usually Y up (``up="y"``), mapped to occpose's Z-up world by a +90 degree
  rotation about x: ``(x, y, z)_bvh -> (x, -z, y)``; a character facing +Z faces -Y.
  ``up="z"`` keeps the axes.
* **Joints**: the 17 Human3.6M joints come from named BVH joints, by built-in candidates
  overridden by a TOML mapping file (:mod:`.bvh_mapping`, which describes both and where
  ``Neck/Nose`` and ``Head`` come from); its names are re-exported here.
* **Time**: positions (not rotations) are resampled to ``fps`` by linear interpolation at
  ``k / fps`` seconds while within the clip.
* **Placement**: ``recenter`` moves the mean root position over the clip to x = y = 0;
  ``ground`` lifts the lowest ankle of the clip to the ankle height of a person of the
  estimated stature (``occpose.subjects.ANKLE_HEIGHT_FRACTION``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import OccposeError
from ..skeleton import H36M_17
from ..subjects import ANKLE_HEIGHT_FRACTION, HEAD_TOP_FRACTION
from .bvh_mapping import (DEFAULT_MAPPING, HEAD_T, ROOT, map_joints,  # noqa: F401 (re-exported)
                          read_mapping)

_TOKEN = re.compile(r"[{}]|[^\s{}]+")
_CHANNELS = {f"{a}{k}": (i, k) for i, a in enumerate("xyz") for k in ("position", "rotation")}


class BvhError(OccposeError):
    """A malformed BVH file or a joint the mapping cannot find."""


@dataclass(frozen=True)
class BvhJoint:
    """One node of the hierarchy; ``channels`` index columns ``start:start + len`` of the motion."""

    name: str
    parent: int
    offset: np.ndarray
    channels: tuple[str, ...] = ()
    start: int = 0
    line: int = 0


@dataclass(eq=False)
class BvhFile:
    """A parsed BVH file: joints in file order (parents first), ``motion`` (F, C) float64."""

    source: str
    joints: list[BvhJoint]
    motion: np.ndarray
    frame_time: float


@dataclass(eq=False)
class BvhClip:
    """Imported motion on the 17-joint Human3.6M skeleton.

    Attributes:
        joints_world: (T, 17, 3) float64 metres, occpose world frame (Z up).
        fps: frame rate of ``joints_world``; source_fps: the file's.
        source: file name; scale: metres per file unit used.
        mapping: each H36M joint -> the BVH joint (or ``"t*A->B"`` point) it came from.
    """

    joints_world: np.ndarray
    fps: float
    source: str
    scale: float
    source_fps: float
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return self.joints_world.shape[0]


# ---------------------------------------------------------------------------------- parsing
# Bounds on untrusted input (a real motion-capture file is far inside each): a file larger than
# MAX_BYTES, a hierarchy with more than MAX_JOINTS joints or deeper than MAX_DEPTH, a joint with
# more than MAX_JOINT_CHANNELS channels, more than MAX_FRAMES frames before or after resampling,
# or a value beyond MAX_ABS (file units or degrees) is refused with a one-line BvhError.
MAX_BYTES = 512 * 2 ** 20
MAX_JOINTS = 1000
MAX_DEPTH = 256
MAX_JOINT_CHANNELS = 12
MAX_FRAMES = 1_000_000
MAX_ABS = 1e7
MAX_FK_ELEMENTS = 20_000_000  # frames x joints kept in forward kinematics (about 2 GB of float64)


def _tokens(lines: list[str]):
    """(token, 1-based line) of the hierarchy, up to and including ``MOTION``."""
    for i, ln in enumerate(lines):
        for t in _TOKEN.findall(ln):
            yield t, i + 1
            if t.upper() == "MOTION":
                return


def parse_bvh(text: str, source: str = "<bvh>") -> BvhFile:
    """Parse BVH text; :class:`BvhError` names ``source:line`` for malformed input.

    The hierarchy is read with an explicit stack (no recursion), so its depth is bounded by
    :data:`MAX_DEPTH`, not by Python's recursion limit.
    """
    lines = text.splitlines()
    toks = _tokens(lines)
    last_line = [len(lines)]

    def err(line: int, msg: str) -> BvhError:
        return BvhError(f"{source}:{line}: {msg}")

    def take(expected: str | None = None) -> tuple[str, int]:
        got = next(toks, None)
        if got is None:
            raise err(len(lines), f"unexpected end of file{f', expected {expected!r}' if expected else ''}")
        tok, line = got
        last_line[0] = line
        if expected is not None and tok.upper() != expected.upper():
            raise err(line, f"expected {expected!r}, got {tok!r}")
        return tok, line

    def number(what: str) -> float:
        tok, line = take()
        try:
            v = float(tok)
        except ValueError:
            raise err(line, f"{what}: expected a number, got {tok!r}") from None
        if not math.isfinite(v):
            raise err(line, f"{what}: value {tok!r} is not finite")
        if abs(v) > MAX_ABS:
            raise err(line, f"{what}: value {tok} is beyond the limit of {MAX_ABS:g} file units")
        return v

    joints: list[BvhJoint] = []
    n_channels = 0
    # One open joint per stack level: [index, name, line, offset, channels, start].
    stack: list[list] = []

    def open_joint(parent: int, name: str, line: int) -> None:
        if len(joints) >= MAX_JOINTS:
            raise err(line, f"more than {MAX_JOINTS} joints; not a body skeleton occpose can import")
        if len(stack) >= MAX_DEPTH:
            raise err(line, f"hierarchy deeper than {MAX_DEPTH} levels; not a body skeleton occpose can import")
        take("{")
        joints.append(BvhJoint(name, parent, np.zeros(3), (), 0, line))
        stack.append([len(joints) - 1, name, line, None, (), 0])

    take("HIERARCHY")
    _, line = take("ROOT")
    open_joint(-1, take()[0], line)
    while stack:
        top = stack[-1]
        me, name = top[0], top[1]
        tok, ln = take()
        key = tok.upper()
        if key == "OFFSET":
            top[3] = np.array([number(f"OFFSET of {name}") for _ in range(3)])
        elif key == "CHANNELS":
            n_tok, n_ln = take()
            if not n_tok.isdigit():
                raise err(n_ln, f"CHANNELS of {name}: expected a channel count, got {n_tok!r}")
            if top[4]:
                raise err(ln, f"joint {name} has a second CHANNELS line")
            if int(n_tok) > MAX_JOINT_CHANNELS:
                raise err(n_ln, f"CHANNELS of {name}: {n_tok} channels, at most {MAX_JOINT_CHANNELS} supported")
            channels = tuple(take()[0] for _ in range(int(n_tok)))
            bad = [c for c in channels if c.lower() not in _CHANNELS]
            if bad:
                raise err(ln, f"CHANNELS of {name}: unknown channel {bad[0]!r}; expected "
                              f"Xposition ... Zrotation")
            top[4], top[5], n_channels = channels, n_channels, n_channels + len(channels)
        elif key == "JOINT":
            open_joint(me, take()[0], ln)
        elif key == "END":
            take("Site")
            take("{")
            take("OFFSET")
            end_off = np.array([number(f"End Site OFFSET of {name}") for _ in range(3)])
            take("}")
            if len(joints) >= MAX_JOINTS:
                raise err(ln, f"more than {MAX_JOINTS} joints; not a body skeleton occpose can import")
            joints.append(BvhJoint(f"{name}_End", me, end_off, (), 0, ln))
        elif tok == "}":
            stack.pop()
            _, _, line0, offset, channels, start = top
            if offset is None:
                raise err(line0, f"joint {name} has no OFFSET")
            joints[me] = BvhJoint(name, joints[me].parent, offset, channels, start, line0)
        else:
            raise err(ln, f"unexpected {tok!r} in joint {name} (expected OFFSET, CHANNELS, JOINT, "
                          f"End Site or '}}')")
    tok, line = take()
    if tok.upper() == "ROOT":
        raise err(line, "more than one ROOT; occpose imports one skeleton per file")
    if tok.upper() != "MOTION":
        raise err(line, f"expected 'MOTION', got {tok!r}")
    motion, frame_time = _parse_motion(lines, line, n_channels, err)
    if motion.shape[0] * len(joints) > MAX_FK_ELEMENTS:
        raise err(line, f"{motion.shape[0]} frames x {len(joints)} joints is more than occpose imports "
                        f"({MAX_FK_ELEMENTS:,} joint-frames); cut the clip")
    return BvhFile(source, joints, motion, frame_time)


def _parse_motion(lines: list[str], motion_line: int, n_channels: int, err) -> tuple[np.ndarray, float]:
    i = motion_line  # 0-based index of the line after MOTION
    body = [(k + 1, ln.strip()) for k, ln in enumerate(lines[i:], start=i) if ln.strip()]
    if len(body) < 2:
        raise err(len(lines), "MOTION needs 'Frames:' and 'Frame Time:' lines")
    (l1, frames_ln), (l2, time_ln) = body[0], body[1]
    m1 = re.fullmatch(r"Frames\s*:\s*(\S+)", frames_ln, re.I)
    if not m1 or not m1.group(1).isdigit():
        raise err(l1, f"expected 'Frames: <count>', got {frames_ln!r}")
    m2 = re.fullmatch(r"Frame\s+Time\s*:\s*(\S+)", time_ln, re.I)
    try:
        frame_time = float(m2.group(1)) if m2 else float("nan")
    except ValueError:
        frame_time = float("nan")
    if not (frame_time > 0 and math.isfinite(frame_time)):
        raise err(l2, f"expected 'Frame Time: <seconds > 0>', got {time_ln!r}")
    if not 1e-5 <= frame_time <= 10.0:
        raise err(l2, f"Frame Time {frame_time:g} s is outside 1e-05 .. 10 s")
    n = int(m1.group(1))
    rows = body[2:]
    if n < 1:
        raise err(l1, "Frames must be at least 1")
    if n > MAX_FRAMES:
        raise err(l1, f"'Frames: {n}' is more than occpose imports ({MAX_FRAMES:,}); cut the clip")
    if len(rows) < n:
        raise err(len(lines), f"'Frames: {n}' but only {len(rows)} frame lines (file truncated?)")
    if len(rows) > n:
        raise err(rows[n][0], f"more frame lines than 'Frames: {n}'")
    motion = np.empty((n, n_channels))
    for f, (ln, row) in enumerate(rows):
        vals = row.split()
        if len(vals) != n_channels:
            raise err(ln, f"frame {f}: expected {n_channels} values (the hierarchy's channels), got {len(vals)}")
        try:
            motion[f] = [float(v) for v in vals]
        except ValueError:
            bad = next(v for v in vals if not _is_float(v))
            raise err(ln, f"frame {f}: {bad!r} is not a number") from None
        if not np.isfinite(motion[f]).all():
            raise err(ln, f"frame {f}: NaN or inf value")
        if np.abs(motion[f]).max(initial=0.0) > MAX_ABS:
            bad = motion[f][np.abs(motion[f]) > MAX_ABS][0]
            raise err(ln, f"frame {f}: value {bad:g} is beyond the limit of {MAX_ABS:g} "
                          f"(file units or degrees)")
    return motion, frame_time


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------------------- kinematics
def _axis_rotation(axis: int, degrees: np.ndarray) -> np.ndarray:
    """(F,) angles -> (F, 3, 3) right-handed rotations about x (0), y (1) or z (2)."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    m = np.zeros((len(a), 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[:, axis, axis] = 1.0
    m[:, i, i], m[:, i, j], m[:, j, i], m[:, j, j] = c, -s, s, c
    return m


def forward_kinematics(bvh: BvhFile, motion: np.ndarray | None = None) -> np.ndarray:
    """(F, N, 3) float64 positions of every joint (End Sites included), file units and axes.

    ``motion`` (F, C) defaults to the file's; zeros give the rest pose.
    """
    motion = bvh.motion if motion is None else motion
    n_frames = motion.shape[0]
    pos = np.zeros((n_frames, len(bvh.joints), 3))
    rot = np.zeros((n_frames, len(bvh.joints), 3, 3))
    for j, jt in enumerate(bvh.joints):
        t = np.broadcast_to(jt.offset, (n_frames, 3)).copy()  # (F, 3)
        local = np.broadcast_to(np.eye(3), (n_frames, 3, 3))
        for k, ch in enumerate(jt.channels):
            axis, kind = _CHANNELS[ch.lower()]
            values = motion[:, jt.start + k]
            if kind == "position":
                t[:, axis] = values
            else:
                local = local @ _axis_rotation(axis, values)
        if jt.parent < 0:
            pos[:, j], rot[:, j] = t, local
        else:
            parent_rot = rot[:, jt.parent]
            pos[:, j] = pos[:, jt.parent] + (parent_rot @ t[..., None])[..., 0]
            rot[:, j] = parent_rot @ local
    return pos


def detect_scale(bvh: BvhFile) -> float:
    """Metres per file unit from the rest skeleton's largest extent (module docstring)."""
    rest = forward_kinematics(bvh, np.zeros((1, bvh.motion.shape[1])))[0]
    extent = float((rest.max(axis=0) - rest.min(axis=0)).max())
    for lo, hi, scale in ((0.5, 3.0, 1.0), (50.0, 300.0, 0.01), (500.0, 3000.0, 0.001)):
        if lo <= extent <= hi:
            return scale
    raise BvhError(f"{bvh.source}: cannot tell the unit from the rest skeleton's size {extent:.3g} "
                   f"(expected about 1.7 m, 170 cm or 1700 mm); pass --scale METRES_PER_UNIT "
                   f"(e.g. 0.056444 for the CMU BVH conversions)")


# --------------------------------------------------------------------------------- the clip
def resample(positions: np.ndarray, source_fps: float, fps: float) -> np.ndarray:
    """(F, ...) samples at ``source_fps`` -> (T, ...) at ``fps`` by linear interpolation.

    T = floor((F - 1) * fps / source_fps) + 1: samples at k / fps seconds within the clip.
    """
    n = positions.shape[0]
    if n == 1 or abs(fps - source_fps) < 1e-5 * fps:
        return positions.copy()
    count = int(math.floor((n - 1) * fps / source_fps + 1e-5)) + 1  # 1e-5: "Frame Time: .0083333"
    x = np.arange(count) * (source_fps / fps)  # fractional source frame
    i0 = np.minimum(np.floor(x).astype(int), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (x - i0).reshape(-1, *([1] * (positions.ndim - 1)))
    return (1 - w) * positions[i0] + w * positions[i1]


def estimate_stature(joints: np.ndarray) -> float:
    """Standing stature (m) of (T, 17, 3) joints, inverting :class:`occpose.subjects.Subject`:
    legs (thigh + shin, mean of both sides) plus the spine-neck-head chain span the stature
    less the ankle and skull-top heights. Median over frames."""
    bones = np.linalg.norm(joints[:, 1:] - joints[:, list(H36M_17.parents[1:])], axis=-1)  # (T, 16)
    b = dict(zip(range(1, 17), np.median(bones, axis=0)))
    legs = (b[2] + b[3] + b[5] + b[6]) / 2
    torso = b[7] + b[8] + b[9] + b[10]
    return float((legs + torso) / (1.0 - ANKLE_HEIGHT_FRACTION - HEAD_TOP_FRACTION))


# Plausible ranges for an adult imported on the Human3.6M skeleton (docs/interop.md): stature
# about the 1st to 99th percentile of adults, and the standing pelvis (hip-joint) height as a
# fraction of it around Human3.6M's mean 0.568 (occpose.subjects).
STATURE_RANGE = (1.40, 2.10)
PELVIS_FRACTION_RANGE = (0.50, 0.62)


def body_check(joints: np.ndarray) -> dict:
    """Stature, standing pelvis height and warnings for (T, 17, 3) imported joints.

    ``pelvis_height_m`` is the hip joints' height when standing straight, from the bones:
    ankle height (``ANKLE_HEIGHT_FRACTION`` of stature) + thigh + shin (mean of both sides, median
    over frames); ``pelvis_fraction`` is that over the stature (Human3.6M's mean 0.568).
    ``warnings`` lists what lies outside :data:`STATURE_RANGE` or :data:`PELVIS_FRACTION_RANGE`.
    """
    stature = estimate_stature(joints)
    bones = np.linalg.norm(joints[:, 1:] - joints[:, list(H36M_17.parents[1:])], axis=-1)
    b = np.median(bones, axis=0)  # bone k ends at joint k + 1
    legs = (b[1] + b[2] + b[4] + b[5]) / 2
    pelvis = ANKLE_HEIGHT_FRACTION * stature + legs
    frac = pelvis / stature if stature > 0 else float("nan")
    warnings = []
    if not STATURE_RANGE[0] <= stature <= STATURE_RANGE[1]:
        warnings.append(f"stature {stature:.2f} m is outside the adult range "
                        f"{STATURE_RANGE[0]:.2f}-{STATURE_RANGE[1]:.2f} m")
    if not PELVIS_FRACTION_RANGE[0] <= frac <= PELVIS_FRACTION_RANGE[1]:
        warnings.append(f"pelvis height {pelvis:.2f} m is {100 * frac:.0f}% of the stature, outside "
                        f"{100 * PELVIS_FRACTION_RANGE[0]:.0f}-{100 * PELVIS_FRACTION_RANGE[1]:.0f}% "
                        f"(Human3.6M: 57%)")
    return {"stature_m": float(stature), "pelvis_height_m": float(pelvis), "pelvis_fraction": float(frac),
            "warnings": warnings}


def load_bvh(path: str | Path, fps: float | None = None, scale: float | None = None,
             mapping: str | Path | dict | None = None, up: str = "y", recenter: bool = True,
             ground: bool = True) -> BvhClip:
    """Import a BVH file as (T, 17, 3) world joints in metres, Z up (module docstring).

    Args:
        fps: target frame rate (default: the file's).
        scale: metres per file unit (default: detected).
        mapping: TOML mapping file or {H36M joint: name or (from, to, t)} overriding the built-in.
        up: the file's up axis, ``"y"`` (usual) or ``"z"``.
    Raises:
        BvhError: malformed file (with its line) or unmapped joint; ConfigError: bad mapping file.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise BvhError(f"{path}: {size / 2 ** 20:.0f} MiB is more than occpose reads as BVH "
                           f"({MAX_BYTES // 2 ** 20} MiB); cut the clip")
        text = path.read_text("utf-8", errors="strict")
    except FileNotFoundError:
        raise BvhError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BvhError(f"{path}: cannot read BVH ({e})") from None
    if up not in ("y", "z"):
        raise BvhError(f"up axis must be 'y' or 'z', got {up!r}")
    if scale is not None and not (1e-6 <= scale <= 10.0):
        raise BvhError(f"--scale must be metres per file unit between 1e-06 and 10, got {scale}")
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise BvhError(f"target fps must be positive, got {fps}")
    bvh = parse_bvh(text, str(path))
    user = read_mapping(mapping) if isinstance(mapping, (str, Path)) else mapping
    scale = detect_scale(bvh) if scale is None else float(scale)
    joints, used = map_joints(bvh, forward_kinematics(bvh), user, str(mapping))
    joints = joints * scale
    if up == "y":
        joints = np.stack([joints[..., 0], -joints[..., 2], joints[..., 1]], axis=-1)
    source_fps = 1.0 / bvh.frame_time
    fps = source_fps if fps is None else float(fps)
    count = math.floor((bvh.motion.shape[0] - 1) * fps / source_fps + 1e-5) + 1
    if count > MAX_FRAMES:
        raise BvhError(f"{path}: {bvh.motion.shape[0]} frames at {source_fps:g} fps become {count:,} at "
                       f"{fps:g} fps, more than occpose imports ({MAX_FRAMES:,}); cut the clip")
    joints = resample(joints, source_fps, fps)
    if recenter:
        joints[..., :2] -= joints[:, 0, :2].mean(axis=0)
    if ground:
        ankles = joints[:, [H36M_17.index("RFoot"), H36M_17.index("LFoot")], 2]
        joints[..., 2] += ANKLE_HEIGHT_FRACTION * estimate_stature(joints) - ankles.min()
    if not np.isfinite(joints).all():
        raise BvhError(f"{path}: forward kinematics produced non-finite positions")
    return BvhClip(joints, fps, path.name, scale, source_fps, used)
