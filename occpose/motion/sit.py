"""Sitting down on an (invisible) chair, staying seated a while, and standing up again.

The feet stay planted. Going down, the pelvis moves back and down while the trunk leans
forward to keep the weight over the feet; seated, the pelvis is about 0.45 m (scaled by
stature) above the floor with the thighs near horizontal; standing up reverses it, leaning
forward first. Cycles repeat for as long as the clip lasts.
"""

from __future__ import annotations

import numpy as np

from .feet import SwingStyle
from .pose import P, arms, pose
from .rig import BodyMeasures, Choreography
from .signals import keyframes, smooth_noise
from .stance import fixed_stance, random_spot, stance_feet, stance_track

SEAT_HEIGHT = 0.45   # metres for a 1.75 m person: root height when seated


def sit_down(body: BodyMeasures, t: np.ndarray, rng: np.random.Generator,
             area_radius: float) -> Choreography:
    """Stand, sit down (1.2-1.8 s), stay seated (1.5-3 s), stand up (1.1-1.6 s), repeat."""
    d, sc, duration = np.deg2rad, body.scale, float(t[-1])
    width, toe = rng.uniform(0.09, 0.14) * sc, d(rng.uniform(5.0, 15.0))
    offsets = np.array([[0.0, -width, -toe], [0.0, width, toe]])
    plan = fixed_stance(random_spot(rng, area_radius, 0.8), rng.uniform(-np.pi, np.pi),
                        duration)
    centre, heading = stance_track(plan, t)
    standing = body.standing_root_height(0.99)
    key_t, key_v = _cycle_keys(rng, sc, standing, duration)
    params = keyframes(key_t, key_v, t)
    for name in ("r_shoulder_flex", "l_shoulder_flex", "r_elbow", "l_elbow"):
        params[:, P[name]] += d(4.0) * smooth_noise(rng, t, 0.1, 0.5)
    params[:, P["neck_yaw"]] += d(12.0) * smooth_noise(rng, t, 0.1, 0.4)
    params[:, P["neck_pitch"]] += d(4.0) * smooth_noise(rng, t, 0.1, 0.5)
    return Choreography(params=params, centre=centre, heading=heading,
                        root_height=np.full(len(t), standing), feet=stance_feet(plan, offsets),
                        swing=SwingStyle(toe_length=body.toe_length))


def _cycle_keys(rng: np.random.Generator, sc: float, standing: float,
                duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Key times (K,) and poses (K, D) of sit-down / stand-up cycles over [0, duration] s."""
    u = rng.uniform
    seat = (SEAT_HEIGHT + u(-0.02, 0.03)) * sc
    drop = standing - seat                  # how far the root goes down
    back = -u(0.27, 0.33) * sc              # root behind the ankles when seated
    stand = pose(spine_pitch=u(0.0, 4.0), **arms(u(0.0, 8.0), 8.0, 10.0, u(10.0, 20.0)))
    times, poses = [0.0], [stand]
    tc = u(0.2, 0.8)
    while tc < duration + 0.5:
        down, up = u(1.2, 1.8), u(1.1, 1.6)
        lean = u(35.0, 45.0)
        seated = pose(pelvis_dx=back, pelvis_dz=-drop, pelvis_pitch=-u(0.0, 8.0),
                      spine_pitch=u(5.0, 15.0), neck_pitch=u(-5.0, 5.0),
                      **arms(u(25.0, 40.0), u(8.0, 15.0), u(15.0, 30.0), u(45.0, 70.0)))
        lowering = pose(pelvis_dx=0.5 * back, pelvis_dz=-0.4 * drop, pelvis_pitch=u(5.0, 12.0),
                        spine_pitch=lean, neck_pitch=-0.5 * lean,
                        **arms(u(20.0, 40.0), 12.0, 15.0, u(20.0, 40.0)))
        rising = pose(seated, pelvis_dx=0.95 * back, pelvis_pitch=u(5.0, 12.0),
                      spine_pitch=lean + u(0.0, 8.0), neck_pitch=-0.5 * lean,
                      **arms(u(20.0, 45.0), 12.0, 15.0, u(20.0, 40.0)))
        half_up = pose(pelvis_dx=0.45 * back, pelvis_dz=-0.45 * drop, pelvis_pitch=5.0,
                       spine_pitch=0.7 * lean, neck_pitch=-0.3 * lean,
                       **arms(u(10.0, 25.0), 10.0, 12.0, u(15.0, 30.0)))
        steps = ((0.0, stand), (0.45 * down, lowering), (0.55 * down, seated),
                 (u(1.5, 3.0), seated), (0.35 * up, rising), (0.3 * up, half_up),
                 (0.35 * up, stand))
        for dt, p in steps:
            tc += dt
            times.append(tc)
            poses.append(p)
        tc += u(0.8, 2.0)
    return np.array(times), np.array(poses)
