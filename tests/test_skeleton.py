import numpy as np
import pytest

from occpose import H36M_17, HUMANEVA_15, body_model, convert_joints, get_skeleton
from occpose.subjects import Subject


def test_h36m_tables():
    assert H36M_17.num_joints == 17
    assert list(H36M_17.parents) == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
    assert H36M_17.joint_names[9] == "Neck/Nose" and H36M_17.joint_names[16] == "RWrist"
    assert len(H36M_17.bones) == 16


def test_humaneva_tables():
    assert list(HUMANEVA_15.parents) == [-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1]
    assert HUMANEVA_15.num_joints == 15


@pytest.mark.parametrize("skel", [H36M_17, HUMANEVA_15])
def test_symmetry_is_an_involution_pairing_left_and_right_names(skel):
    perm = skel.flip_permutation()
    assert (perm[perm] == np.arange(skel.num_joints)).all()
    for left, right in zip(skel.joints_left, skel.joints_right):
        assert skel.joint_names[left].startswith("L") and skel.joint_names[right].startswith("R")
        assert skel.joint_names[left][1:] == skel.joint_names[right][1:]
        # mirrored joints have mirrored parents
        pl, pr = skel.parents[left], skel.parents[right]
        assert pl == pr or perm[pl] == pr


def test_convert_to_humaneva_keeps_anatomy():
    j17 = np.arange(17 * 3, dtype=float).reshape(17, 3)
    j15 = convert_joints(j17, H36M_17, HUMANEVA_15)
    for i, name in enumerate(HUMANEVA_15.joint_names):
        src = {"Pelvis": "Hip", "LAnkle": "LFoot", "RAnkle": "RFoot"}.get(name, name)
        assert (j15[i] == j17[H36M_17.index(src)]).all()


def test_unknown_skeleton_names_choices():
    with pytest.raises(KeyError, match="h36m17"):
        get_skeleton("coco")


def test_subject_bone_lengths_positive_and_stature():
    s = Subject("S1", 1.80, leg=1.05)
    bl = s.bone_lengths()
    assert bl[0] == 0 and (bl[1:] > 0).all()
    # legs scaled up relative to an average subject of the same height
    assert bl[2] > Subject("S0", 1.80).bone_lengths()[2]
    with pytest.raises(ValueError, match="height"):
        Subject("S2", 0.0)


def test_body_model_presets():
    cheng = body_model("cheng2019", height=1.9)
    radii = {s.name: s.radius for s in cheng.segments}
    assert radii["forearm_left"] == 0.025 and radii["thigh_right"] == 0.025  # 5 cm limbs
    assert radii["head"] == 0.05  # 10 cm head
    anthro_small, anthro_big = body_model("anthropometric", 1.55), body_model("anthropometric", 1.95)
    assert (anthro_big.radii > anthro_small.radii).all()
    # each joint's surface radius is the largest of its segments
    assert cheng.joint_radius[H36M_17.index("LElbow")] == 0.025
    assert cheng.incidence.sum() == 2 * len(cheng.segments)
    with pytest.raises(ValueError, match="positive"):
        body_model("cheng2019", radii={"head": -0.1})
