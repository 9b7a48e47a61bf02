"""Throwing and catching a ball: wind up, throw with a torso turn, wait, reach, catch, repeat.

Authored for a right-hander (left foot forward); a left-hander is the mirror image.
"""

from __future__ import annotations

import numpy as np

from .feet import SwingStyle
from .pose import P, arm, arms, mirror, pose
from .rig import BodyMeasures, Choreography
from .signals import keyframes, smooth_noise
from .stance import (mirror_offsets, random_spot, random_stance_plan, stance_feet,
                     stance_track)


def throw_catch(body: BodyMeasures, t: np.ndarray, rng: np.random.Generator,
                area_radius: float) -> Choreography:
    """Repeated throw-then-catch cycles of 3-5 s, facing a partner; occasional small turns."""
    d, sc, duration = np.deg2rad, body.scale, float(t[-1])
    lefty = rng.random() < 0.15
    half = rng.uniform(0.1, 0.16) * sc
    offsets = np.array([[-half, -rng.uniform(0.10, 0.14) * sc, -d(rng.uniform(20.0, 40.0))],
                        [half, rng.uniform(0.06, 0.10) * sc, -d(rng.uniform(0.0, 12.0))]])
    if lefty:
        offsets = mirror_offsets(offsets)
    spot_radius = 0.25 * sc
    plan = random_stance_plan(rng, duration, random_spot(rng, area_radius, spot_radius + 0.7),
                              spot_radius, rng.uniform(-np.pi, np.pi), hold=(3.0, 7.0),
                              step_time=(0.8, 1.1), turn=d(35.0), turn_prob=0.4,
                              shift=0.1 * sc)
    centre, heading = stance_track(plan, t)

    key_t, key_v = _cycle_keys(rng, sc, duration)
    params = keyframes(key_t, key_v, t)
    params[:, P["neck_yaw"]] += d(8.0) * smooth_noise(rng, t, 0.1, 0.5)
    params[:, P["spine_roll"]] += d(3.0) * smooth_noise(rng, t, 0.1, 0.5)
    if lefty:
        params = mirror(params)
    return Choreography(params=params, centre=centre, heading=heading,
                        root_height=np.full(len(t), body.standing_root_height(0.98)),
                        feet=stance_feet(plan, offsets),
                        swing=SwingStyle(clearance=0.05 * sc, toe_length=body.toe_length))


def _cycle_keys(rng: np.random.Generator, sc: float,
                duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Key times (K,) and poses (K, D) of throw-catch cycles covering [0, duration] s."""
    u = rng.uniform
    ready = pose(spine_pitch=u(3.0, 8.0),
                 **arms(u(25.0, 35.0), 12.0, u(40.0, 55.0), u(95.0, 110.0)))   # ball at chest
    rest = pose(spine_pitch=u(0.0, 5.0), **arms(u(0.0, 8.0), 8.0, 10.0, u(10.0, 25.0)))
    times, poses = [0.0], [ready]
    tc = u(0.1, 0.5)
    while tc < duration + 0.5:
        cocked, release, follow = _throw_poses(rng, sc)
        catch = _catch_pose(rng, sc)
        absorbed = catch + pose(pelvis_dz=-0.02 * sc, **arms(-15.0, 0.0, 5.0, 35.0))
        steps = ((0.0, ready), (u(0.5, 0.7), cocked), (u(0.05, 0.12), cocked),
                 (u(0.2, 0.28), release), (u(0.25, 0.35), follow), (u(0.5, 0.8), rest),
                 (u(0.5, 1.5), rest), (u(0.4, 0.6), catch), (u(0.12, 0.2), absorbed),
                 (u(0.3, 0.5), ready))
        for dt, p in steps:
            tc += dt
            times.append(tc)
            poses.append(p)
        tc += u(0.3, 1.0)
    return np.array(times), np.array(poses)


def _throw_poses(rng: np.random.Generator, sc: float) -> tuple[np.ndarray, ...]:
    """Right-handed overarm throw: cocked (arm back, torso turned away), release, follow-through."""
    u = rng.uniform
    cocked = pose(pelvis_dx=-u(0.04, 0.08) * sc, pelvis_yaw=-u(20.0, 30.0),
                  spine_yaw=-u(25.0, 40.0), spine_roll=u(4.0, 10.0), spine_pitch=u(-5.0, 3.0),
                  neck_yaw=u(45.0, 60.0),
                  **arm("r", -u(5.0, 15.0), u(80.0, 95.0), -u(70.0, 90.0), u(85.0, 105.0)),
                  **arm("l", u(70.0, 90.0), u(0.0, 10.0), 0.0, u(10.0, 30.0)))
    release = pose(pelvis_dx=u(0.04, 0.07) * sc, pelvis_yaw=u(5.0, 15.0),
                   spine_yaw=u(15.0, 25.0), spine_pitch=u(15.0, 25.0), spine_roll=-u(0.0, 8.0),
                   neck_yaw=-u(10.0, 25.0),
                   **arm("r", u(60.0, 80.0), u(50.0, 70.0), u(0.0, 30.0), u(10.0, 30.0)),
                   **arm("l", u(15.0, 30.0), 15.0, 30.0, u(80.0, 100.0)))
    follow = pose(pelvis_dx=u(0.06, 0.09) * sc, pelvis_yaw=u(10.0, 20.0),
                  spine_yaw=u(25.0, 35.0), spine_pitch=u(25.0, 35.0),
                  neck_yaw=-u(20.0, 35.0), neck_pitch=-u(10.0, 20.0),
                  **arm("r", u(35.0, 50.0), u(0.0, 10.0), u(40.0, 60.0), u(20.0, 40.0)),
                  **arm("l", u(0.0, 15.0), 20.0, 20.0, u(70.0, 90.0)))
    return cocked, release, follow


def _catch_pose(rng: np.random.Generator, sc: float) -> np.ndarray:
    """Both hands reaching for the ball, from knee height (crouching) to above the head."""
    u = rng.uniform
    height = u(-1.0, 1.0)
    low = max(-height, 0.0)
    return pose(spine_pitch=u(5.0, 10.0) + 25.0 * low, pelvis_dz=-0.1 * low * sc,
                pelvis_dx=-0.04 * low * sc,
                **arms(70.0 + 35.0 * height, u(10.0, 20.0), u(25.0, 40.0), u(20.0, 35.0)))
