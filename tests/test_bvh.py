"""BVH import: parsing, forward kinematics against hand-computed values, units, axes, mapping,
resampling and error messages."""

from __future__ import annotations

import re

import numpy as np
import pytest

from occpose.errors import ConfigError
from occpose.interop.bvh import BvhError, estimate_stature, load_bvh, resample
from occpose.interop.bvh_mapping import HEAD_T, NOSE_T
from occpose.skeleton import H36M_17

# CMU-style names, centimetres, Y up, facing +Z (the character's left is +X).
HIERARCHY = """HIERARCHY
ROOT Hips
{
  OFFSET 0.0 0.0 0.0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT LeftUpLeg
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT LeftLeg
    {
      OFFSET 0 -45 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      JOINT LeftFoot
      {
        OFFSET 0 -42 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        End Site
        {
          OFFSET 0 -3 10
        }
      }
    }
  }
  JOINT RightUpLeg
  {
    OFFSET -10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT RightLeg
    {
      OFFSET 0 -45 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      JOINT RightFoot
      {
        OFFSET 0 -42 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        End Site
        {
          OFFSET 0 -3 10
        }
      }
    }
  }
  JOINT Spine
  {
    OFFSET 0 12 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Spine1
    {
      OFFSET 0 12 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      JOINT Neck
      {
        OFFSET 0 25 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        JOINT Head
        {
          OFFSET 0 10 0
          CHANNELS 3 Zrotation Xrotation Yrotation
          End Site
          {
            OFFSET 0 20 0
          }
        }
      }
      JOINT LeftShoulder
      {
        OFFSET 3 22 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        JOINT LeftArm
        {
          OFFSET 15 0 0
          CHANNELS 3 Zrotation Xrotation Yrotation
          JOINT LeftForeArm
          {
            OFFSET 28 0 0
            CHANNELS 3 Zrotation Xrotation Yrotation
            JOINT LeftHand
            {
              OFFSET 25 0 0
              CHANNELS 3 Zrotation Xrotation Yrotation
              End Site
              {
                OFFSET 8 0 0
              }
            }
          }
        }
      }
      JOINT RightShoulder
      {
        OFFSET -3 22 0
        CHANNELS 3 Zrotation Xrotation Yrotation
        JOINT RightArm
        {
          OFFSET -15 0 0
          CHANNELS 3 Zrotation Xrotation Yrotation
          JOINT RightForeArm
          {
            OFFSET -28 0 0
            CHANNELS 3 Zrotation Xrotation Yrotation
            JOINT RightHand
            {
              OFFSET -25 0 0
              CHANNELS 3 Zrotation Xrotation Yrotation
              End Site
              {
                OFFSET -8 0 0
              }
            }
          }
        }
      }
    }
  }
}
"""
ORDER = ["Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot", "Spine",
         "Spine1", "Neck", "Head", "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
         "RightShoulder", "RightArm", "RightForeArm", "RightHand"]
N_CHANNELS = 3 + 3 * len(ORDER)


def frame(root_pos=(0, 92, 0), **rotations) -> list[float]:
    """One motion line: root position and per-joint (Z, X, Y) rotations in degrees."""
    values = list(root_pos)
    for name in ORDER:
        values += list(rotations.get(name, (0, 0, 0)))
    return values


FRAMES = [
    frame(),
    frame((5, 92, 10), Hips=(0, 0, 90), LeftUpLeg=(0, -30, 0), LeftLeg=(0, 45, 0)),
    frame((0, 90, 0), Hips=(10, 20, 30), Spine=(15, 0, 0), LeftArm=(0, 0, -40)),
]


def bvh_text(frames=FRAMES, frame_time=0.04, scale=1.0, hierarchy=HIERARCHY) -> str:
    if scale != 1.0:  # rescale every OFFSET and the root positions
        hierarchy = "\n".join(
            ln.split("OFFSET")[0] + "OFFSET " + " ".join(f"{float(v) * scale:g}" for v in ln.split()[1:])
            if ln.strip().startswith("OFFSET") else ln for ln in hierarchy.splitlines()) + "\n"
        frames = [[v * scale if i < 3 else v for i, v in enumerate(f)] for f in frames]
    rows = "\n".join(" ".join(f"{v:g}" for v in f) for f in frames)
    return f"{hierarchy}MOTION\nFrames: {len(frames)}\nFrame Time: {frame_time}\n{rows}\n"


@pytest.fixture
def write(tmp_path):
    def _write(text, name="clip.bvh"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return _write


def rx(a):
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(a):
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(a):
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def to_occpose(p_cm):
    """BVH centimetres, Y up -> occpose metres, Z up: (x, y, z) -> (x, -z, y) / 100."""
    x, y, z = np.asarray(p_cm, dtype=float) / 100
    return np.array([x, -z, y])


def joint(clip, name):
    return clip.joints_world[:, H36M_17.index(name)]


def test_forward_kinematics_matches_hand_computation(write):
    clip = load_bvh(write(bvh_text()), recenter=False, ground=False)
    assert clip.joints_world.shape == (3, 17, 3) and clip.fps == pytest.approx(25.0)
    assert clip.scale == 0.01  # detected: the rest skeleton is 169 units tall
    # Frame 0, rest pose: the left ankle 87 cm below the hips, 10 cm to the character's left.
    np.testing.assert_allclose(joint(clip, "LFoot")[0], to_occpose([10, 5, 0]), atol=1e-9)
    # Neck/Nose and Head on the line from the neck base (Neck, 141) to the head top (Head_End, 171).
    np.testing.assert_allclose(joint(clip, "Head")[0], to_occpose([0, 141 + HEAD_T * 30, 0]), atol=1e-9)
    np.testing.assert_allclose(joint(clip, "Neck/Nose")[0], to_occpose([0, 141 + NOSE_T * 30, 0]), atol=1e-9)
    # Frame 1: hips turned 90 deg about Y, left hip flexed by X(-30), knee by X(45).
    root, r_root = np.array([5, 92, 10]), ry(90)
    hip = root + r_root @ [10, 0, 0]
    knee = hip + r_root @ rx(-30) @ [0, -45, 0]
    ankle = knee + r_root @ rx(-30) @ rx(45) @ [0, -42, 0]
    np.testing.assert_allclose(joint(clip, "LHip")[1], to_occpose(hip), atol=1e-9)
    np.testing.assert_allclose(joint(clip, "LKnee")[1], to_occpose(knee), atol=1e-9)
    np.testing.assert_allclose(joint(clip, "LFoot")[1], to_occpose(ankle), atol=1e-9)
    # Frame 2: channel order Z X Y on the root, a bent spine and a raised left arm.
    r_root = rz(10) @ rx(20) @ ry(30)
    root = np.array([0, 90, 0])
    spine = root + r_root @ [0, 12, 0]
    r_spine = r_root @ rz(15)
    spine1 = spine + r_spine @ [0, 12, 0]
    shoulder = spine1 + r_spine @ [3, 22, 0] + r_spine @ [15, 0, 0]
    elbow = shoulder + r_spine @ ry(-40) @ [28, 0, 0]
    np.testing.assert_allclose(joint(clip, "Spine")[2], to_occpose(spine1), atol=1e-9)  # Spine <- Spine1
    np.testing.assert_allclose(joint(clip, "LShoulder")[2], to_occpose(shoulder), atol=1e-9)  # <- LeftArm
    np.testing.assert_allclose(joint(clip, "LElbow")[2], to_occpose(elbow), atol=1e-9)
    assert clip.mapping["LShoulder"] == "LeftArm" and clip.mapping["Thorax"] == "Neck"
    assert clip.mapping["Neck/Nose"] == f"{NOSE_T:g}*Neck->Head_End"
    assert clip.mapping["Head"] == f"{HEAD_T:g}*Neck->Head_End"
    assert clip.mapping["Hip"] == "0.5*LeftUpLeg->RightUpLeg"


def test_units_axes_and_placement(write):
    cm = load_bvh(write(bvh_text(), "cm.bvh"))
    m = load_bvh(write(bvh_text(scale=0.01), "m.bvh"))
    assert m.scale == 1.0
    np.testing.assert_allclose(m.joints_world, cm.joints_world, atol=1e-9)
    forced = load_bvh(write(bvh_text(), "cm.bvh"), scale=0.02)
    assert estimate_stature(forced.joints_world) == pytest.approx(2 * estimate_stature(cm.joints_world))
    # Z up in the world: the head is above the hips, and the ankles rest at ankle height.
    assert (joint(cm, "Head")[:, 2] > joint(cm, "Hip")[:, 2] + 0.5).all()
    stature = estimate_stature(cm.joints_world)
    assert 1.5 < stature < 1.8
    ankles = cm.joints_world[:, [3, 6], 2]
    assert ankles.min() == pytest.approx(0.045 * stature)
    np.testing.assert_allclose(cm.joints_world[:, 0, :2].mean(axis=0), 0.0, atol=1e-12)  # recentred
    zup = load_bvh(write(bvh_text(), "cm.bvh"), up="z", recenter=False, ground=False)
    np.testing.assert_allclose(joint(zup, "LFoot")[0], [0.10, 0.05, 0.0], atol=1e-9)
    with pytest.raises(BvhError, match=r"size 33.8.*--scale"):
        load_bvh(write(bvh_text(scale=0.2), "odd.bvh"))


def test_resampling(write):
    clip = load_bvh(write(bvh_text()), fps=50, recenter=False, ground=False)
    src = load_bvh(write(bvh_text()), recenter=False, ground=False)
    assert clip.n_frames == 5 and clip.fps == 50 and clip.source_fps == pytest.approx(25)
    np.testing.assert_allclose(clip.joints_world[::2], src.joints_world, atol=1e-12)
    np.testing.assert_allclose(clip.joints_world[1], src.joints_world[:2].mean(axis=0), atol=1e-12)
    x = np.arange(10.0)[:, None]
    np.testing.assert_allclose(resample(x, 30, 20)[:, 0], np.arange(7) * 1.5)


def test_mapping_file_overrides_and_mixamo_names(write, tmp_path):
    (tmp_path / "map.toml").write_text(
        '[mapping]\nSpine = "Spine"\n"Neck/Nose" = { from = "Neck", to = "Head", t = 0.5 }\n')
    clip = load_bvh(write(bvh_text()), mapping=tmp_path / "map.toml", recenter=False, ground=False)
    base = load_bvh(write(bvh_text()), recenter=False, ground=False)
    np.testing.assert_allclose(joint(clip, "Spine")[0], to_occpose([0, 104, 0]), atol=1e-9)
    np.testing.assert_allclose(joint(clip, "Neck/Nose")[0], to_occpose([0, 92 + 49 + 5, 0]), atol=1e-9)
    np.testing.assert_allclose(joint(clip, "Head"), joint(base, "Head"))
    mixamo = HIERARCHY.replace("JOINT ", "JOINT mixamorig:").replace("ROOT Hips", "ROOT mixamorig:Hips")
    mix = load_bvh(write(bvh_text(hierarchy=mixamo), "mixamo.bvh"))
    np.testing.assert_allclose(mix.joints_world, load_bvh(write(bvh_text())).joints_world, atol=1e-12)
    assert mix.mapping["LWrist"] == "mixamorig:LeftHand"
    (tmp_path / "bad.toml").write_text('[mapping]\nPelvis = "Hips"\n')
    with pytest.raises(ConfigError, match=r"bad.toml: 'mapping.Pelvis': unknown joint"):
        load_bvh(write(bvh_text()), mapping=tmp_path / "bad.toml")
    (tmp_path / "gone.toml").write_text('[mapping]\nHip = "Pelvis"\n')
    with pytest.raises(BvhError, match=r"gone.toml: 'mapping.Hip' names joint 'Pelvis', which .*clip.bvh "
                                       r"does not have"):
        load_bvh(write(bvh_text()), mapping=tmp_path / "gone.toml")


def test_error_messages(write):
    text = bvh_text()
    with pytest.raises(BvhError, match=r"clip.bvh: no joint for H36M 'RHip' \(tried RightUpLeg"):
        load_bvh(write(text.replace("RightUpLeg", "RightThighBone")))
    lines = text.splitlines()
    bad = "\n".join(ln.replace("OFFSET 0 -45 0", "OFFSET 0 -4x5 0") for ln in lines)
    with pytest.raises(BvhError, match=r"clip.bvh:12: OFFSET of LeftLeg: expected a number, got '-4x5'"):
        load_bvh(write(bad))
    n = len(lines)
    with pytest.raises(BvhError, match=rf"clip.bvh:{n - 1}: frame 1: expected {N_CHANNELS} values"):
        load_bvh(write("\n".join(lines[:-2] + [lines[-2] + " 7", lines[-1]])))
    with pytest.raises(BvhError, match=rf"clip.bvh:{n}: frame 2: NaN or inf"):
        load_bvh(write("\n".join(lines[:-1] + [lines[-1].replace("92", "nan", 1).replace("90", "nan", 1)])))
    with pytest.raises(BvhError, match="'Frames: 3' but only 2 frame lines"):
        load_bvh(write("\n".join(lines[:-1])))
    with pytest.raises(BvhError, match=r"clip.bvh:5: CHANNELS of Hips: unknown channel 'Wrotation'"):
        load_bvh(write(text.replace("Zposition Zrotation", "Zposition Wrotation", 1)))
    with pytest.raises(BvhError, match="Frame Time"):
        load_bvh(write(text.replace("Frame Time: 0.04", "Frame Time: 0")))
    with pytest.raises(BvhError, match="file not found"):
        load_bvh(write(text).with_name("missing.bvh"))


# ------------------------------------------------------------------------ convert bvh (CLI)
def test_convert_bvh_builds_the_config_for_the_generator(write, tiny_preset, tmp_path, monkeypatch, capsys):
    from occpose.cli import main

    seen = {}

    def fake_generate(cfg, out, clips=None, **kwargs):
        seen.update(cfg=cfg, out=out, clips=clips)
        return {"sequences": [], "status": "complete"}

    monkeypatch.setattr("occpose.generate.generate", fake_generate)
    path = write(bvh_text(), "Walk 01.bvh")
    assert main(["convert", "bvh", str(path), "--config", str(tiny_preset),
                 "--set", "benchmark.levels=[0.0, 0.4]", "--out", str(tmp_path / "out")]) == 0
    cfg, clips = seen["cfg"], seen["clips"]
    b = cfg.benchmark
    assert b.actions == ["walk_01"] and b.train_subjects == ["B1"] and b.test_subjects == []
    assert b.frames == 5 and b.fps == 50.0 and b.levels == [0.0, 0.4]  # 3 frames at 25 fps -> 5 at 50
    assert list(cfg.subjects) == ["B1"] and 1.5 < cfg.subjects["B1"].height < 1.8
    (key, joints), = clips.items()
    assert key == ("B1", "walk_01") and joints.shape == (5, 17, 3)
    assert "stature" in capsys.readouterr().out
    assert main(["convert", "bvh", str(path), "--config", str(tiny_preset), "--action", "bad name",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--action 'bad name'" in capsys.readouterr().err
    assert main(["convert", "bvh", str(path), "--config", str(tiny_preset), "--scale", "0.1",
                 "--out", str(tmp_path / "o")]) == 2
    assert "stature" in capsys.readouterr().err


def test_convert_bvh_end_to_end(write, tiny_preset, tmp_path):
    from occpose.cli import main
    from occpose.dataset import open_benchmark

    path = write(bvh_text(), "walk.bvh")
    assert main(["convert", "bvh", str(path), "--config", str(tiny_preset), "--set", "benchmark.levels=[0.0]",
                 "--out", str(tmp_path / "out"), "--quiet", "--workers", "1"]) == 0
    bench = open_benchmark(tmp_path / "out")
    clip = load_bvh(path, fps=50)
    (seq,) = list(bench)
    assert seq.entry.subject == "B1" and seq.entry.action == "walk"
    np.testing.assert_allclose(seq.arrays["joints_3d_world"], clip.joints_world, atol=1e-6)


# ------------------------------------------- a CMU-layout file (the cgspeed conversion's joint names)
# (name, parent, offset in CMU units of 1/0.45 inch, channels): LowerBack and Neck at their parent,
# the shoulders hanging off Spine1 with a zero offset, the root 1.7 units above the hip joints.
CMU_JOINTS = [
    ("Hips", None, (0, 0, 0), 6),
    ("LHipJoint", "Hips", (0, 0, 0), 3), ("LeftUpLeg", "LHipJoint", (1.6, -1.7, 0.8), 3),
    ("LeftLeg", "LeftUpLeg", (0, -7.8, 0), 3), ("LeftFoot", "LeftLeg", (0, -7.6, 0), 3),
    ("LeftToeBase", "LeftFoot", (0, -0.6, 2.2), 3),
    ("RHipJoint", "Hips", (0, 0, 0), 3), ("RightUpLeg", "RHipJoint", (-1.6, -1.7, 0.8), 3),
    ("RightLeg", "RightUpLeg", (0, -7.8, 0), 3), ("RightFoot", "RightLeg", (0, -7.6, 0), 3),
    ("RightToeBase", "RightFoot", (0, -0.6, 2.2), 3),
    ("LowerBack", "Hips", (0, 0, 0), 3), ("Spine", "LowerBack", (0, 2.1, 0), 3),
    ("Spine1", "Spine", (0, 2.1, 0), 3), ("Neck", "Spine1", (0, 0, 0), 3),
    ("Neck1", "Neck", (0, 1.7, 0), 3), ("Head", "Neck1", (0, 1.6, 0), 3),
    ("LeftShoulder", "Spine1", (0, 0, 0), 3), ("LeftArm", "LeftShoulder", (3.4, 0.5, 0), 3),
    ("LeftForeArm", "LeftArm", (5.4, 0, 0), 3), ("LeftHand", "LeftForeArm", (4.4, 0, 0), 3),
    ("RightShoulder", "Spine1", (0, 0, 0), 3), ("RightArm", "RightShoulder", (-3.4, 0.5, 0), 3),
    ("RightForeArm", "RightArm", (-5.4, 0, 0), 3), ("RightHand", "RightForeArm", (-4.4, 0, 0), 3),
]
CMU_END_SITES = {"Head": (0, 1.8, 0), "LeftToeBase": (0, 0, 1.1), "RightToeBase": (0, 0, 1.1),
                 "LeftHand": (0.7, 0, 0), "RightHand": (-0.7, 0, 0)}
CMU_SCALE = 0.056444


def cmu_bvh(frames=6, root_y=17.5, leg=1.0) -> str:
    """A CMU-layout BVH walking slowly along +Z; ``leg`` scales the thigh and shin offsets."""
    kids: dict = {}
    for name, parent, off, ch in CMU_JOINTS:
        kids.setdefault(parent, []).append((name, off, ch))
    out, n_channels = ["HIERARCHY"], 0

    def emit(name, off, ch, depth):
        nonlocal n_channels
        pad = "  " * depth
        if name in ("LeftLeg", "LeftFoot", "RightLeg", "RightFoot"):
            off = tuple(v * leg for v in off)
        out.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {name}")
        out.append(pad + "{")
        out.append(f"{pad}  OFFSET {off[0]:g} {off[1]:g} {off[2]:g}")
        pos = "Xposition Yposition Zposition " if ch == 6 else ""
        out.append(f"{pad}  CHANNELS {ch} {pos}Zrotation Yrotation Xrotation")
        n_channels += ch
        for kid in kids.get(name, []):
            emit(*kid, depth + 1)
        if name in CMU_END_SITES:
            e = CMU_END_SITES[name]
            out.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET {e[0]:g} {e[1]:g} {e[2]:g}", pad + "  }"])
        out.append(pad + "}")

    emit("Hips", (0, 0, 0), 6, 0)
    out += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0083333"]
    for f in range(frames):
        row = [0.0] * n_channels
        row[1], row[2] = root_y * leg, 0.2 * f
        row[6 + 3 * 1 + 2] = 10.0 * np.sin(f)  # some left-hip flexion (LeftUpLeg's X rotation)
        out.append(" ".join(f"{v:g}" for v in row))
    return "\n".join(out) + "\n"


def test_cmu_layout_mapping_stature_and_pelvis(write):
    from occpose.interop.bvh import body_check

    clip = load_bvh(write(cmu_bvh(), "cmu.bvh"), scale=CMU_SCALE, recenter=False, ground=False)
    m = clip.mapping
    assert m["Hip"] == "0.5*LeftUpLeg->RightUpLeg" and m["Spine"] == "Spine" and m["Thorax"] == "Neck"
    assert m["Neck/Nose"] == f"{NOSE_T:g}*Neck->Head_End" and m["Head"] == f"{HEAD_T:g}*Neck->Head_End"
    u = CMU_SCALE
    root_z = 17.5 * u
    # The pelvis midway between the hip joints, 1.7 units below the CMU root; the thorax at
    # Spine1/Neck, 4.2 units above it; the head points on the line up to Head_End (9.3 units).
    np.testing.assert_allclose(joint(clip, "Hip")[0], [0, -0.8 * u, root_z - 1.7 * u], atol=1e-9)
    np.testing.assert_allclose(joint(clip, "Thorax")[0, 2], root_z + 4.2 * u, atol=1e-9)
    for name, t in (("Neck/Nose", NOSE_T), ("Head", HEAD_T)):
        np.testing.assert_allclose(joint(clip, name)[0, 2], root_z + (4.2 + t * 5.1) * u, atol=1e-9)
    check = body_check(clip.joints_world)
    legs = (7.8 + 7.6) * u
    torso = (np.hypot(3.8, 0.8) + 2.1 + HEAD_T * 5.1) * u  # Hip -> Spine -> Thorax -> Head
    assert check["stature_m"] == pytest.approx((legs + torso) / 0.91, rel=1e-6)
    assert check["pelvis_height_m"] == pytest.approx(0.045 * check["stature_m"] + legs, rel=1e-6)
    assert 0.50 < check["pelvis_fraction"] < 0.62 and check["warnings"] == []
    # CMU's other BVH conversion names the same joints differently (lowerneck is the neck base,
    # Neck is mid-neck, LeftShoulder is the upper arm): the same 17 joints come out.
    other = {"LeftUpLeg": "LeftHip", "LeftLeg": "LeftKnee", "LeftFoot": "LeftAnkle", "LeftToeBase": "LeftToe",
             "LowerBack": "lowerback", "Spine": "Chest", "Spine1": "Chest2", "Neck": "lowerneck", "Neck1": "Neck",
             "LeftShoulder": "LeftCollar", "LeftArm": "LeftShoulder", "LeftForeArm": "LeftElbow",
             "LeftHand": "LeftWrist"}
    other.update({k.replace("Left", "Right"): v.replace("Left", "Right") for k, v in other.items() if "Left" in k})
    renamed = re.sub(r"(JOINT|ROOT) (\w+)", lambda m: f"{m.group(1)} {other.get(m.group(2), m.group(2))}", cmu_bvh())
    variant = load_bvh(write(renamed, "cmu_other.bvh"), scale=CMU_SCALE, recenter=False, ground=False)
    assert variant.mapping["Thorax"] == "lowerneck" and variant.mapping["Hip"] == "0.5*LeftHip->RightHip"
    np.testing.assert_allclose(variant.joints_world, clip.joints_world, atol=1e-12)
    # Legs 30 % longer: the pelvis is implausibly high for the stature, and it says so.
    long_legs = load_bvh(write(cmu_bvh(leg=1.3), "long.bvh"), scale=CMU_SCALE)
    (warning,) = body_check(long_legs.joints_world)["warnings"]
    assert "pelvis height" in warning and "outside 50-62%" in warning


def test_convert_several_cmu_clips(write, tiny_preset, tmp_path, capsys):
    import json

    from occpose.cli import main
    from occpose.dataset import open_benchmark

    a = write(cmu_bvh(frames=30), "01_01.bvh")
    b = write(cmu_bvh(frames=40, leg=1.3), "02_05.bvh")
    out = tmp_path / "cmu"
    assert main(["convert", "bvh", str(a), str(b), "--scale", str(CMU_SCALE), "--clips-as", "subjects",
                 "--subjects", "C1,C2", "--action", "walk", "--split", "test", "--config", str(tiny_preset),
                 "--set", "benchmark.levels=[0.0]", "--out", str(out), "--quiet", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "mapping: Hip <- 0.5*LeftUpLeg->RightUpLeg" in printed and "scale 0.056444 m/unit" in printed
    assert "warning: pelvis height" in printed and "02_05.bvh: cut to 13 frames" in printed
    bench = open_benchmark(out)
    assert {(e.subject, e.action, e.split) for e in bench.entries} == {("C1", "walk", "test"), ("C2", "walk", "test")}
    assert {e.frames for e in bench.entries} == {13}  # 30 frames at 120 fps -> 13 at 50 fps
    record = json.loads((out / "manifest.json").read_text())["import"]
    assert record["kind"] == "bvh" and [c["file"] for c in record["clips"]] == ["01_01.bvh", "02_05.bvh"]
    c1 = record["clips"][0]
    assert c1["scale"] == CMU_SCALE and c1["mapping"]["Head"] == f"{HEAD_T:g}*Neck->Head_End"
    assert c1["warnings"] == [] and len(record["clips"][1]["warnings"]) == 1
    assert bench.config["benchmark"]["test_subjects"] == ["C1", "C2"]
    assert bench.config["benchmark"]["train_subjects"] == []
    # Clips as actions of one subject (the default), train split; names from the files.
    assert main(["convert", "bvh", str(a), str(a.with_name("01_01.bvh")), "--scale", str(CMU_SCALE),
                 "--config", str(tiny_preset), "--out", str(tmp_path / "x")]) == 2
    assert "same action name" in capsys.readouterr().err
    c = write(cmu_bvh(frames=30), "01_02.bvh")
    assert main(["convert", "bvh", str(a), str(c), "--scale", str(CMU_SCALE), "--config", str(tiny_preset),
                 "--set", "benchmark.levels=[0.0]", "--out", str(tmp_path / "acts"), "--quiet",
                 "--workers", "1"]) == 0
    acts = open_benchmark(tmp_path / "acts")
    assert {(e.subject, e.action, e.split) for e in acts.entries} == {("B1", "01_01", "train"), ("B1", "01_02", "train")}
    assert main(["convert", "bvh", str(a), str(c), "--action", "walk", "--config", str(tiny_preset),
                 "--out", str(tmp_path / "y")]) == 2
    assert "--action: one name for several files" in capsys.readouterr().err


# ------------------------------------------------------------ untrusted BVH: bounded, one line
def _one_line_exit_2(capsys, argv, *expected):
    from occpose.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in err, err
    return err


def test_hostile_bvh_files_are_one_line_errors(write, tiny_preset, tmp_path, capsys):
    def convert(path):
        return ["convert", "bvh", str(path), "--config", str(tiny_preset), "--out", str(tmp_path / "out")]

    deep = ["HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", "CHANNELS 3 Xposition Yposition Zposition"]
    for k in range(5000):
        deep += [f"JOINT J{k}", "{", "OFFSET 0 1 0", "CHANNELS 3 Zrotation Xrotation Yrotation"]
    deep += ["}"] * 5001 + ["MOTION", "Frames: 1", "Frame Time: 0.04", " ".join(["0"] * (3 + 3 * 5000))]
    _one_line_exit_2(capsys, convert(write("\n".join(deep), "deep.bvh")), "deep.bvh:", "deeper than 256 levels")
    huge = bvh_text().replace("\n0 92 0 ", "\n1e308 92 0 ", 1)
    assert "1e+308 92 0" in huge or "1e308 92 0" in huge
    _one_line_exit_2(capsys, convert(write(huge, "huge.bvh")), "huge.bvh:", "frame 0: value 1e+308 is beyond the limit")
    offset = bvh_text().replace("OFFSET 0 -45 0", "OFFSET 0 -1e308 0", 1)
    _one_line_exit_2(capsys, convert(write(offset, "off.bvh")), "off.bvh:12:", "OFFSET of LeftLeg: value -1e308 is beyond")
    many = bvh_text().replace("Frames: 3", "Frames: 1000000000")
    _one_line_exit_2(capsys, convert(write(many, "many.bvh")), "many.bvh:", "is more than occpose imports")
    chans = bvh_text().replace("CHANNELS 3 Zrotation Xrotation Yrotation", "CHANNELS 99999999999 Zrotation", 1)
    _one_line_exit_2(capsys, convert(write(chans, "chans.bvh")), "chans.bvh:", "at most 12 supported")
    slow = bvh_text().replace("Frame Time: 0.04", "Frame Time: 1e-300")
    _one_line_exit_2(capsys, convert(write(slow, "slow.bvh")), "slow.bvh:", "Frame Time 1e-300 s is outside")
    _one_line_exit_2(capsys, [*convert(write(bvh_text(), "ok.bvh")), "--scale", "1e300"], "--scale must be")
    assert not (tmp_path / "out").exists()
