"""Procedural motion: shapes, exact bones, determinism, feet on the floor, area, smoothness."""

from __future__ import annotations

import numpy as np
import pytest

from occpose.motion import ACTIONS, MotionClip, forward_kinematics, generate_motion, rest_pose
from occpose.motion.fk import euler_to_matrix
from occpose.motion.signals import keyframes, smooth_below, softmin
from occpose.skeleton import H36M_17
from occpose.subjects import ANKLE_HEIGHT_FRACTION, HEAD_TOP_FRACTION, Subject

FPS = 50.0
N_FRAMES = 500
SUBJECTS = (
    Subject("S1", 1.55, leg=0.97, shoulder=0.94, hip=1.06, build=0.95),
    Subject("S3", 1.81, arm=1.04, shoulder=1.06, hip=0.95),
    Subject("S5", 1.95, leg=0.98, arm=0.99, shoulder=1.08, hip=0.97, build=0.92),
)
SEEDS = (0, 1, 2)
REQUIRED = ("walk", "jog", "box", "gesture", "throw_catch", "sit_down")


def _clip(action: str, subject: Subject, seed: int, n_frames: int = N_FRAMES,
          area_radius: float = 1.5) -> MotionClip:
    return generate_motion(action, subject, n_frames, FPS, np.random.default_rng(seed),
                           area_radius=area_radius)


@pytest.fixture(scope="module")
def clips() -> dict[tuple[str, str, int], MotionClip]:
    return {(a, s.name, seed): _clip(a, s, seed)
            for a in ACTIONS for s in SUBJECTS for seed in SEEDS}


def _of(clips, action):
    return [(key[1], clip) for key, clip in clips.items() if key[0] == action]


def _subject(name: str) -> Subject:
    return next(s for s in SUBJECTS if s.name == name)


def _foot_height(clip: MotionClip, subject: Subject) -> np.ndarray:
    """(T, 2) sole height above the floor of the right and left foot, metres."""
    return clip.joints_world[:, [3, 6], 2] - ANKLE_HEIGHT_FRACTION * subject.height


def _forward(clip: MotionClip) -> np.ndarray:
    h = clip.root_heading
    return np.column_stack([np.cos(h), np.sin(h)])


def test_required_actions_are_listed():
    assert set(REQUIRED) <= set(ACTIONS)


@pytest.mark.parametrize("action", ACTIONS)
def test_shapes_dtypes_finite(clips, action):
    for _, clip in _of(clips, action):
        assert clip.action == action and clip.fps == FPS
        assert clip.joints_world.shape == (N_FRAMES, 17, 3)
        assert clip.joints_world.dtype == np.float64 and clip.root_heading.dtype == np.float64
        assert clip.root_heading.shape == (N_FRAMES,)
        assert np.isfinite(clip.joints_world).all() and np.isfinite(clip.root_heading).all()
        assert np.all(np.abs(clip.root_heading) <= np.pi)


@pytest.mark.parametrize("action", ACTIONS)
def test_bone_lengths_exact_in_every_frame(clips, action):
    for name, clip in _of(clips, action):
        expected = _subject(name).bone_lengths()[1:]
        np.testing.assert_allclose(H36M_17.bone_lengths(clip.joints_world),
                                   np.broadcast_to(expected, (N_FRAMES, 16)), rtol=0, atol=1e-9)


@pytest.mark.parametrize("action", ACTIONS)
def test_same_seed_same_bytes_other_seed_differs(action):
    a = _clip(action, SUBJECTS[1], 7, 200)
    b = _clip(action, SUBJECTS[1], 7, 200)
    c = _clip(action, SUBJECTS[1], 8, 200)
    assert a.joints_world.tobytes() == b.joints_world.tobytes()
    assert a.root_heading.tobytes() == b.root_heading.tobytes()
    root_rel = lambda clip: clip.joints_world - clip.joints_world[:, :1]   # noqa: E731
    assert np.abs(a.joints_world - c.joints_world).max() > 0.1
    assert np.abs(root_rel(a) - root_rel(c)).max() > 0.05     # the pose differs, not just place


def test_rng_is_the_only_randomness():
    np.random.seed(0)
    a = _clip("gesture", SUBJECTS[0], 3, 100)
    np.random.seed(1)
    b = _clip("gesture", SUBJECTS[0], 3, 100)
    assert a.joints_world.tobytes() == b.joints_world.tobytes()


# Fraction of frames in which at least one sole is within 1 cm of the floor: walking lifts the
# heel of the trailing foot before the other lands; jogging has flight phases.
MIN_GROUNDED = {"walk": 0.7, "jog": 0.5}


@pytest.mark.parametrize("action", ACTIONS)
def test_feet_on_the_floor(clips, action):
    for name, clip in _of(clips, action):
        height = _foot_height(clip, _subject(name))
        assert height.min() > -0.01, "a foot sinks into the floor"
        lowest = height.min(axis=1)
        assert np.mean(lowest < 0.01) >= MIN_GROUNDED.get(action, 0.95)
        assert np.median(np.abs(lowest)) < 0.005


@pytest.mark.parametrize("action", ACTIONS)
def test_planted_feet_do_not_skate(clips, action):
    for name, clip in _of(clips, action):
        height = _foot_height(clip, _subject(name))
        for k, joint in enumerate((3, 6)):
            down = np.concatenate([[False], height[:, k] < 0.005, [False]])
            edges = np.flatnonzero(np.diff(down.astype(int)))
            for start, stop in zip(edges[::2], edges[1::2]):      # contact runs [start, stop)
                xy = clip.joints_world[start:stop, joint, :2]
                assert np.linalg.norm(xy - xy[0], axis=1).max() < 0.03, (name, start, stop)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("area_radius", [1.2, 1.5])
def test_stays_inside_the_area(action, area_radius):
    for seed in range(3):
        clip = _clip(action, SUBJECTS[2], seed, 3000, area_radius)      # one minute
        radial = np.linalg.norm(clip.joints_world[..., :2], axis=-1)
        assert radial[:, 0].max() < area_radius
        assert radial.max() < area_radius + 0.1


@pytest.mark.parametrize("action", ACTIONS)
def test_smooth_bounded_velocity(clips, action):
    limit = {"walk": 0.15, "jog": 0.2, "gesture": 0.15, "sit_down": 0.1}.get(action, 0.4)
    for _, clip in _of(clips, action):
        step = np.linalg.norm(np.diff(clip.joints_world, axis=0), axis=-1)   # m per frame
        assert step.max() < limit
        accel = np.linalg.norm(np.diff(clip.joints_world, 2, axis=0), axis=-1) * FPS**2
        assert np.isfinite(accel).all() and accel.max() < 600.0
        assert np.abs(np.diff(np.unwrap(clip.root_heading))).max() < 0.1


def _speed(clip: MotionClip) -> float:
    root = clip.joints_world[:, 0, :2]
    return np.linalg.norm(np.diff(root, axis=0), axis=1).sum() / ((len(root) - 1) / clip.fps)


def test_walk_travels_at_walking_speed_and_cadence(clips):
    for name, clip in _of(clips, "walk"):
        low = 1.1 if _subject(name).height < 1.6 else 1.25
        assert low <= _speed(clip) <= 1.9
        contacts = np.diff((_foot_height(clip, _subject(name)) < 0.005).astype(int), axis=0)
        steps_per_s = (contacts == 1).sum() / (N_FRAMES / FPS)
        assert 1.6 <= steps_per_s <= 2.2


def test_jog_is_faster_than_walk_and_has_flight(clips):
    for (action, name, seed), clip in clips.items():
        if action != "jog":
            continue
        assert _speed(clip) > 1.6
        assert _speed(clip) > _speed(clips["walk", name, seed])
        airborne = _foot_height(clip, _subject(name)).min(axis=1) > 0.02
        assert 0.05 < airborne.mean() < 0.4


def test_heading_follows_the_path(clips):
    for _, clip in _of(clips, "walk"):
        velocity = np.gradient(clip.joints_world[:, 0, :2], axis=0)
        direction = velocity / np.linalg.norm(velocity, axis=1, keepdims=True)
        assert np.median(np.sum(direction * _forward(clip), axis=1)) > np.cos(np.deg2rad(10))


def test_walk_alternates_legs_and_swings_arms_against_them(clips):
    for _, clip in _of(clips, "walk"):
        j = clip.joints_world
        ahead = lambda joint: np.sum((j[:, joint, :2] - j[:, 0, :2]) * _forward(clip), 1)  # noqa
        assert np.corrcoef(ahead(3), ahead(6))[0, 1] < -0.5           # right vs left ankle
        assert np.corrcoef(ahead(3), ahead(16))[0, 1] < -0.5          # right ankle vs wrist
        assert np.corrcoef(ahead(3), ahead(13))[0, 1] > 0.5           # right ankle, left wrist


@pytest.mark.parametrize("action", ACTIONS)
def test_knees_point_forward(clips, action):
    for _, clip in _of(clips, action):
        j = clip.joints_world
        for hip, knee, ankle in ((1, 2, 3), (4, 5, 6)):
            bulge = j[:, knee, :2] - 0.5 * (j[:, hip, :2] + j[:, ankle, :2])
            assert np.sum(bulge * _forward(clip), axis=1).min() > -0.01


def test_in_place_actions_stay_near_a_spot(clips):
    for action in ("box", "gesture", "throw_catch", "sit_down"):
        for _, clip in _of(clips, action):
            root = clip.joints_world[:, 0, :2]
            assert np.linalg.norm(root - root.mean(axis=0), axis=1).max() < 0.6


def test_sit_down_sits_and_stands_again(clips):
    for name, clip in _of(clips, "sit_down"):
        scale = _subject(name).height / 1.75
        z = clip.joints_world[:, 0, 2]
        low = np.argmin(z)
        assert 0.38 * scale < z[low] < 0.52 * scale
        assert z.max() > 0.9 * scale                                   # stood up again
        thigh = clip.joints_world[low, [2, 5]] - clip.joints_world[low, [1, 4]]
        tilt = np.degrees(np.arctan2(thigh[:, 2], np.linalg.norm(thigh[:, :2], axis=1)))
        assert np.all(np.abs(tilt) < 20.0)                             # thighs near horizontal


@pytest.mark.parametrize("subject", SUBJECTS, ids=lambda s: s.name)
def test_rest_pose_stature(subject):
    ankle = ANKLE_HEIGHT_FRACTION * subject.height
    pose = rest_pose(subject.bone_lengths(), ankle)
    stature = pose[10, 2] + HEAD_TOP_FRACTION * subject.height
    assert stature == pytest.approx(subject.height, rel=0.02)
    np.testing.assert_allclose(pose[[3, 6], 2], ankle)


def test_forward_kinematics_keeps_bone_lengths_under_any_rotation():
    rng = np.random.default_rng(0)
    rot = euler_to_matrix(rng.uniform(-np.pi, np.pi, (20, 17, 3)))
    lengths = SUBJECTS[0].bone_lengths()
    joints = forward_kinematics(rot, rng.normal(size=(20, 3)), lengths)
    np.testing.assert_allclose(H36M_17.bone_lengths(joints), np.tile(lengths[1:], (20, 1)),
                               atol=1e-12)


def test_unknown_action_names_it_and_lists_actions():
    with pytest.raises(KeyError) as err:
        generate_motion("moonwalk", SUBJECTS[0], 10, FPS, np.random.default_rng(0))
    message = err.value.args[0]
    assert "moonwalk" in message and all(a in message for a in ACTIONS)


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        generate_motion("walk", SUBJECTS[0], 0, FPS, rng)
    with pytest.raises(ValueError):
        generate_motion("walk", SUBJECTS[0], 10, 0.0, rng)
    with pytest.raises(TypeError):
        generate_motion("walk", SUBJECTS[0], 10, FPS, 0)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("n_frames, fps", [(1, 50.0), (2, 50.0), (40, 10.0), (150, 100.0)])
def test_short_clips_and_other_frame_rates(action, n_frames, fps):
    clip = generate_motion(action, SUBJECTS[1], n_frames, fps, np.random.default_rng(0))
    assert clip.joints_world.shape == (n_frames, 17, 3)
    assert np.isfinite(clip.joints_world).all()
    assert _foot_height(clip, SUBJECTS[1]).min() > -0.01


def test_signal_helpers():
    t = np.linspace(0.0, 3.0, 301)
    keys_t, keys_v = np.array([0.0, 1.0, 1.5, 3.0]), np.array([[0.0], [2.0], [2.0], [-1.0]])
    track = keyframes(keys_t, keys_v, t)[:, 0]
    np.testing.assert_allclose(track[[0, 100, 150, 300]], keys_v[:, 0], atol=1e-12)
    assert track.max() <= 2.0 + 1e-12 and track.min() >= -1.0 - 1e-12   # no overshoot
    x = np.sin(7 * t) + (t > 1.3)
    assert np.all(smooth_below(x, 5) <= x + 1e-12)
    assert np.all(softmin([x, -x], 0.01) <= np.minimum(x, -x))
