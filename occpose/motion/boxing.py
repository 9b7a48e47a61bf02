"""Boxing: a bladed guard stance, bouncing, weaving, jabs, crosses and hooks, small steps.

Authored for an orthodox boxer (left foot and left hand lead); a southpaw is the mirror image.
"""

from __future__ import annotations

import numpy as np

from .feet import SwingStyle
from .pose import P, arm, mirror, pose
from .rig import BodyMeasures, Choreography
from .signals import keyframes, smooth_noise
from .stance import (mirror_offsets, random_spot, random_stance_plan, stance_feet,
                     stance_track)


def box(body: BodyMeasures, t: np.ndarray, rng: np.random.Generator,
        area_radius: float) -> Choreography:
    """Shadow boxing in place: guard, punches every 0.5-1.5 s, a shuffle step every 1-2 s."""
    d, sc, duration = np.deg2rad, body.scale, float(t[-1])
    southpaw = rng.random() < 0.25
    half = rng.uniform(0.15, 0.2) * sc
    offsets = np.array([[-half, -rng.uniform(0.10, 0.14) * sc, -d(rng.uniform(30.0, 50.0))],
                        [half, rng.uniform(0.05, 0.09) * sc, -d(rng.uniform(5.0, 20.0))]])
    if southpaw:
        offsets = mirror_offsets(offsets)
    spot_radius = 0.35 * sc
    plan = random_stance_plan(rng, duration, random_spot(rng, area_radius, spot_radius + 0.7),
                              spot_radius, rng.uniform(-np.pi, np.pi), hold=(0.6, 1.8),
                              step_time=(0.3, 0.45), turn=d(30.0), turn_prob=0.35,
                              shift=0.15 * sc)
    centre, heading = stance_track(plan, t)

    guard = pose(pelvis_yaw=-rng.uniform(20.0, 30.0), spine_yaw=rng.uniform(10.0, 18.0),
                 spine_pitch=rng.uniform(8.0, 14.0), neck_pitch=rng.uniform(5.0, 12.0),
                 neck_yaw=10.0, **arm("l", rng.uniform(45.0, 60.0), 20.0, 25.0, 115.0),
                 **arm("r", rng.uniform(35.0, 45.0), 25.0, 35.0, 130.0))
    params = keyframes(*_punch_keys(rng, guard, duration), t)
    params[:, P["pelvis_dz"]] += rng.uniform(0.012, 0.025) * sc * np.sin(
        2.0 * np.pi * rng.uniform(1.6, 2.3) * t + rng.uniform(0.0, 2.0 * np.pi))
    params[:, P["pelvis_dy"]] += 0.03 * sc * smooth_noise(rng, t, 0.3, 0.8)
    params[:, P["spine_roll"]] += d(6.0) * smooth_noise(rng, t, 0.3, 1.0)
    params[:, P["spine_pitch"]] += d(4.0) * smooth_noise(rng, t, 0.3, 1.0)
    for name in ("l_shoulder_flex", "r_shoulder_flex", "l_elbow", "r_elbow"):
        params[:, P[name]] += d(4.0) * smooth_noise(rng, t, 0.5, 1.5)
    if southpaw:
        params = mirror(params)
    return Choreography(params=params, centre=centre, heading=heading,
                        root_height=np.full(len(t), body.standing_root_height(0.93)),
                        feet=stance_feet(plan, offsets),
                        swing=SwingStyle(clearance=0.04 * sc, toe_length=body.toe_length),
                        height_smoothing=0.05)


def _punch_keys(rng: np.random.Generator, guard: np.ndarray,
                duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Key times (K,) and poses (K, D): combinations of punches separated by guard."""
    combos = (("jab",), ("cross",), ("hook",), ("jab", "cross"), ("jab", "jab"),
              ("jab", "cross", "hook"))
    weights = np.array([0.25, 0.2, 0.1, 0.25, 0.1, 0.1])
    times, poses = [0.0], [guard]
    tc = rng.uniform(0.1, 0.6)
    while tc < duration + 0.5:
        times.append(tc)
        poses.append(guard)
        for move in combos[rng.choice(len(combos), p=weights)]:
            reach, hold = rng.uniform(0.1, 0.15), rng.uniform(0.02, 0.06)
            back = rng.uniform(0.15, 0.25)
            target = _punch(move, guard, rng)
            times += [tc + reach, tc + reach + hold, tc + reach + hold + back]
            poses += [target, target, guard]
            tc += reach + hold + back
        tc += rng.uniform(0.3, 1.2)
    return np.array(times), np.array(poses)


def _punch(move: str, guard: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pose at full extension of a punch (orthodox), thrown from ``guard``."""
    u = rng.uniform
    if move == "jab":      # lead (left) hand straight out, lead shoulder forward
        return pose(guard, spine_yaw=u(-8.0, 0.0), neck_yaw=20.0,
                    **arm("l", u(82.0, 92.0), u(-8.0, 2.0), u(20.0, 35.0), u(3.0, 12.0)))
    if move == "cross":    # rear (right) hand, hips and shoulders turn through
        return pose(guard, pelvis_yaw=u(-5.0, 5.0), pelvis_dx=0.04, spine_yaw=u(15.0, 25.0),
                    neck_yaw=-5.0, spine_pitch=u(10.0, 16.0),
                    **arm("r", u(82.0, 95.0), u(5.0, 12.0), u(15.0, 30.0), u(3.0, 12.0)))
    # hook: lead arm horizontal and bent at 90 degrees, torso whips to the right
    return pose(guard, pelvis_yaw=-u(30.0, 40.0), spine_yaw=-u(15.0, 25.0), neck_yaw=45.0,
                **arm("l", u(25.0, 40.0), u(75.0, 90.0), u(-5.0, 10.0), u(85.0, 100.0)))
