"""Walking and jogging along a closed loop inside the capture area.

The root travels along a :class:`~occpose.motion.path.LoopPath` at constant speed, facing the
path tangent. Footprints are laid along the path, one per step, alternating sides; each foot
stays exactly on its footprint while planted (so nothing skates) and the hips ride as high as
the legs allow, which gives the pelvis its natural rise and fall. Arms counter-swing the legs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .feet import FootPlan, SwingStyle
from .path import LoopPath, random_loop
from .pose import N_PARAMS, P
from .rig import BodyMeasures, Choreography

_G = 9.81
Lean = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def walk(body: BodyMeasures, t: np.ndarray, rng: np.random.Generator,
         area_radius: float) -> Choreography:
    """Walking at ~1.3-1.7 m/s (less for short legs), 1.8-2.0 steps/s."""
    cadence = rng.uniform(1.8, 2.0)
    stride = body.leg * rng.uniform(0.78, 0.9)           # one step, metres
    duty = rng.uniform(0.60, 0.63)
    period = 2.0 / cadence
    swing = SwingStyle(clearance=rng.uniform(0.04, 0.07) * body.scale, peak=0.5,
                       roll_time=(duty - rng.uniform(0.28, 0.33)) * period,
                       roll_angle=np.deg2rad(rng.uniform(55.0, 70.0)),
                       toe_length=body.toe_length)
    style = {
        "sway": rng.uniform(0.015, 0.03) * body.scale, "drop": rng.uniform(2.0, 4.0),
        "pelvis_yaw": rng.uniform(3.0, 7.0), "thorax_yaw": rng.uniform(3.0, 7.0),
        "lean": rng.uniform(2.0, 7.0), "bob_pitch": rng.uniform(1.0, 3.0),
        "arm_mean": rng.uniform(-3.0, 5.0), "arm_amp": rng.uniform(12.0, 28.0),
        "arm_abd": rng.uniform(6.0, 12.0), "arm_rot": rng.uniform(0.0, 15.0),
        "elbow": rng.uniform(12.0, 30.0), "elbow_amp": rng.uniform(8.0, 25.0),
        "arm_lag": rng.uniform(0.0, 0.08), "head_pitch": rng.uniform(-5.0, 5.0),
    }
    return _locomote(body, t, rng, area_radius, cadence=cadence, stride=stride, duty=duty,
                     lead=rng.uniform(0.34, 0.40), width=rng.uniform(0.04, 0.07) * body.scale,
                     toe_out=np.deg2rad(rng.uniform(4.0, 10.0)), swing=swing,
                     hip=rng.uniform(0.955, 0.975), bounce=0.0, min_turn=1.0, style=style,
                     max_lateral_acc=2.5, margin=0.3, height_smoothing=0.1)


def jog(body: BodyMeasures, t: np.ndarray, rng: np.random.Generator,
        area_radius: float) -> Choreography:
    """Jogging at ~2-2.7 m/s (slower on loops tighter than ~1.5 m radius), 2.5-2.8 steps/s,
    with a flight phase, bent arms and high heel kicks."""
    cadence = rng.uniform(2.5, 2.8)
    stride = body.leg * rng.uniform(0.9, 1.05)
    duty = rng.uniform(0.36, 0.42)
    period = 2.0 / cadence
    swing = SwingStyle(clearance=rng.uniform(0.2, 0.3) * body.scale,
                       peak=rng.uniform(0.3, 0.4),
                       roll_time=0.3 * duty * period,
                       roll_angle=np.deg2rad(rng.uniform(35.0, 50.0)),
                       toe_length=body.toe_length)
    style = {
        "sway": rng.uniform(0.01, 0.02) * body.scale, "drop": rng.uniform(2.0, 4.0),
        "pelvis_yaw": rng.uniform(5.0, 9.0), "thorax_yaw": rng.uniform(6.0, 12.0),
        "lean": rng.uniform(8.0, 14.0), "bob_pitch": rng.uniform(2.0, 4.0),
        "arm_mean": rng.uniform(5.0, 15.0), "arm_amp": rng.uniform(25.0, 40.0),
        "arm_abd": rng.uniform(10.0, 20.0), "arm_rot": rng.uniform(10.0, 25.0),
        "elbow": rng.uniform(80.0, 100.0), "elbow_amp": rng.uniform(-15.0, 15.0),
        "arm_lag": rng.uniform(0.0, 0.06), "head_pitch": rng.uniform(-10.0, 0.0),
    }
    return _locomote(body, t, rng, area_radius, cadence=cadence, stride=stride, duty=duty,
                     lead=rng.uniform(0.8, 0.9) * duty,
                     width=rng.uniform(0.02, 0.05) * body.scale,
                     toe_out=np.deg2rad(rng.uniform(3.0, 8.0)), swing=swing,
                     hip=rng.uniform(0.93, 0.95), bounce=rng.uniform(0.025, 0.04) * body.scale,
                     min_turn=1.0, style=style, max_lateral_acc=5.0, margin=0.4,
                     height_smoothing=0.04)


def _locomote(body: BodyMeasures, t: np.ndarray, rng: np.random.Generator, area_radius: float,
              *, cadence: float, stride: float, duty: float, lead: float, width: float,
              toe_out: float, swing: SwingStyle, hip: float, bounce: float, min_turn: float,
              style: dict[str, float], max_lateral_acc: float, margin: float,
              height_smoothing: float) -> Choreography:
    """Shared walk/jog driver; ``lead`` is how far ahead of the root a foot lands, in strides.
    The root path keeps ``margin`` m inside the area, room for the feet and the lean."""
    path = random_loop(rng, area_radius, min_turn, margin=margin)
    speed = stride * cadence
    v_max = np.sqrt(max_lateral_acc / max(np.abs(path.curvature).max(), 1e-6))
    if speed > v_max:   # too tight a loop for this pace: shorten the steps and slow the cadence
        f = np.sqrt(v_max / speed)
        stride, cadence, speed = stride * f, cadence * f, v_max
    s0 = rng.uniform(0.0, path.length)
    phase0 = rng.uniform(0.0, 1.0)
    phase = phase0 + 0.5 * cadence * t                                   # (T,) gait cycles
    centre, heading, curvature = path.at(s0 + speed * t)
    base_height = body.ankle_height + hip * body.leg
    lean = _turn_lean(speed, base_height)
    feet = tuple(_footprints(path, s0, speed, phase0, cadence, duty, lead * stride, width,
                             toe_out, side, float(t[-1]), lean) for side in (-1, 1))
    params = _gait_params(phase, duty, style)
    params[:, P["pelvis_roll"]] -= lean(curvature)[0]
    root_height = base_height - bounce * np.cos(4.0 * np.pi * (phase - duty / 2.0))
    return Choreography(params=params, centre=centre, heading=heading, root_height=root_height,
                        feet=feet, swing=swing, height_smoothing=height_smoothing)


def _turn_lean(speed: float, height: float) -> Lean:
    """Function of curvature (...,) -> (lean angle, outward foot shift in metres).

    The body leans into a turn (left turn, positive curvature: positive lean to the left) by
    about the angle that balances the centripetal acceleration, so the feet land outside the
    path by ``height * tan(lean)``.
    """
    def lean(curvature: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        angle = np.clip(0.4 * np.arctan(speed**2 * curvature / _G), -0.12, 0.12)
        return angle, height * np.tan(angle)
    return lean


def _footprints(path: LoopPath, s0: float, speed: float, phase0: float, cadence: float,
                duty: float, lead: float, width: float, toe_out: float, side: int,
                t_end: float, lean: Lean) -> FootPlan:
    """Footprints of the right (``side`` -1) or left (+1) foot covering [0, t_end] s.

    The right foot lands at whole gait cycles, the left half a cycle later; ``lean`` is
    :func:`_turn_lean`'s function.
    """
    offset = 0.0 if side < 0 else 0.5
    period = 2.0 / cadence
    k = np.arange(np.floor(phase0 - offset) - 1, np.ceil(phase0 + t_end / period - offset) + 2)
    t_on = (k + offset - phase0) * period
    s_on = s0 + speed * t_on + lead
    xy, head = _track(path, s_on, side * width, lean)
    via, _ = _track(path, s_on + speed * period / 2.0, side * width, lean)
    return FootPlan(t_on=t_on, t_off=t_on + duty * period, xy=xy, yaw=head + side * toe_out,
                    via=via)


def _track(path: LoopPath, s: np.ndarray, offset: float,
           lean: Lean) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) points ``offset`` m left of the path at arc lengths ``s`` (shifted out of turns
    by the lean), and the (N,) path heading there."""
    xy, head, curvature = path.at(s)
    normal = np.column_stack([-np.sin(head), np.cos(head)])          # (N, 2) to the left
    return xy + (offset - lean(curvature)[1])[:, None] * normal, head


def _gait_params(phase: np.ndarray, duty: float, style: dict[str, float]) -> np.ndarray:
    """(T, D) pose vectors for a gait: pelvis sway/roll/rotation, counter-rotating thorax,
    arms swinging against the legs. The right foot lands at whole ``phase`` (cycles)."""
    d = np.deg2rad
    q = np.zeros((len(phase), N_PARAMS))
    c1 = np.cos(2.0 * np.pi * phase)                         # +1 at right heel strike
    mid = np.cos(2.0 * np.pi * (phase - duty / 2.0))         # +1 at right mid-stance
    c2 = np.cos(4.0 * np.pi * (phase - duty / 2.0))          # +1 at each mid-stance
    q[:, P["pelvis_dy"]] = -style["sway"] * mid               # over the stance foot
    q[:, P["pelvis_roll"]] = -d(style["drop"]) * mid
    q[:, P["spine_roll"]] = 0.5 * d(style["drop"]) * mid
    q[:, P["pelvis_yaw"]] = d(style["pelvis_yaw"]) * c1        # forward leg's hip forward
    q[:, P["spine_yaw"]] = -d(style["pelvis_yaw"] + style["thorax_yaw"]) * c1
    q[:, P["neck_yaw"]] = d(style["thorax_yaw"]) * c1          # head keeps looking ahead
    q[:, P["spine_pitch"]] = d(style["lean"] + style["bob_pitch"] * c2)
    q[:, P["neck_pitch"]] = d(style["head_pitch"] - 0.6 * style["lean"])
    arm_r = -np.cos(2.0 * np.pi * (phase - style["arm_lag"]))  # +1: right arm forward
    for side, swing in (("r", arm_r), ("l", -arm_r)):
        q[:, P[f"{side}_shoulder_flex"]] = d(style["arm_mean"] + style["arm_amp"] * swing)
        q[:, P[f"{side}_shoulder_abd"]] = d(style["arm_abd"])
        q[:, P[f"{side}_shoulder_rot"]] = d(style["arm_rot"])
        q[:, P[f"{side}_elbow"]] = d(style["elbow"] + style["elbow_amp"] * 0.5 * (1.0 + swing))
    return q
