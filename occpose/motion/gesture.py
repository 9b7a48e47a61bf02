"""Gesturing while standing: talking hands, pointing, waving, shrugging, weight shifts, glances.

Events follow one another with pauses; each eases in from the rest pose, holds (with its own
small movements), and eases out. Now and then the person turns or shifts on the spot.
"""

from __future__ import annotations

import numpy as np

from .feet import SwingStyle
from .pose import P, arm, arms, mirror, pose
from .rig import BodyMeasures, Choreography
from .signals import keyframes, pulse, smooth_noise
from .stance import random_spot, random_stance_plan, stance_feet, stance_track

_EVENTS = ("talk", "talk_both", "point", "wave", "shrug")
_EVENT_WEIGHTS = np.array([0.3, 0.25, 0.2, 0.12, 0.13])


def gesture(body: BodyMeasures, t: np.ndarray, rng: np.random.Generator,
            area_radius: float) -> Choreography:
    """Standing and gesturing; a turn or shift on the spot every few seconds."""
    d, sc, duration = np.deg2rad, body.scale, float(t[-1])
    width, toe = rng.uniform(0.08, 0.13) * sc, d(rng.uniform(5.0, 12.0))
    offsets = np.array([[0.0, -width, -toe], [0.0, width, toe]])
    spot_radius = 0.25 * sc
    plan = random_stance_plan(rng, duration, random_spot(rng, area_radius, spot_radius + 0.6),
                              spot_radius, rng.uniform(-np.pi, np.pi), hold=(2.5, 6.0),
                              step_time=(0.8, 1.1), turn=d(70.0), turn_prob=0.7,
                              shift=0.12 * sc)
    centre, heading = stance_track(plan, t)

    rest = pose(spine_pitch=rng.uniform(0.0, 4.0), neck_pitch=rng.uniform(-3.0, 5.0),
                **arms(rng.uniform(0.0, 8.0), rng.uniform(6.0, 10.0), 10.0, rng.uniform(8.0, 20.0)))
    key_t, key_v, extra = [0.0], [rest], np.zeros((len(t), len(rest)))
    tc = rng.uniform(0.0, 1.0)
    while tc < duration + 0.5:
        kind = _EVENTS[rng.choice(len(_EVENTS), p=_EVENT_WEIGHTS)]
        rise, hold, fall = rng.uniform(0.3, 0.6), rng.uniform(0.8, 2.5), rng.uniform(0.4, 0.7)
        target, wiggle = _event(kind, rest, rng, t, tc + rise, hold)
        if rng.random() < 0.4:   # the left hand this time
            target, wiggle = mirror(target), mirror(wiggle)
        key_t += [tc, tc + rise, tc + rise + hold, tc + rise + hold + fall]
        key_v += [rest, target, target, rest]
        extra += pulse(t, tc, rise, hold, fall)[:, None] * wiggle
        tc += rise + hold + fall + rng.uniform(0.3, 2.0)
    params = keyframes(np.array(key_t), np.array(key_v), t) + extra

    shift = rng.uniform(0.02, 0.045) * sc * smooth_noise(rng, t, 0.05, 0.2)
    params[:, P["pelvis_dy"]] += shift
    params[:, P["pelvis_roll"]] += 1.5 * shift            # unloaded hip drops
    params[:, P["spine_roll"]] -= 1.0 * shift
    params[:, P["spine_yaw"]] += d(6.0) * smooth_noise(rng, t, 0.1, 0.4)
    params[:, P["neck_yaw"]] += d(rng.uniform(10.0, 25.0)) * smooth_noise(rng, t, 0.1, 0.4)
    params[:, P["neck_pitch"]] += d(5.0) * smooth_noise(rng, t, 0.2, 0.8)
    return Choreography(params=params, centre=centre, heading=heading,
                        root_height=np.full(len(t), body.standing_root_height(0.99)),
                        feet=stance_feet(plan, offsets),
                        swing=SwingStyle(clearance=0.05 * sc, toe_length=body.toe_length))


def _event(kind: str, rest: np.ndarray, rng: np.random.Generator, t: np.ndarray,
           start: float, hold: float) -> tuple[np.ndarray, np.ndarray]:
    """Target pose (D,) of a right-handed gesture and (T, D) movement added while it holds."""
    u, d = rng.uniform, np.deg2rad
    wiggle = np.zeros((len(t), len(rest)))
    if kind in ("talk", "talk_both"):
        side = arm("r", u(10.0, 35.0), u(10.0, 25.0), u(20.0, 45.0), u(70.0, 100.0))
        other = arm("l", u(5.0, 30.0), u(10.0, 25.0), u(20.0, 45.0), u(60.0, 95.0))
        target = pose(rest, **side, **(other if kind == "talk_both" else {}))
        arms_moving = ("r", "l") if kind == "talk_both" else ("r",)
        for s in arms_moving:
            for name, amp in (("shoulder_flex", 10.0), ("elbow", 18.0), ("shoulder_rot", 15.0)):
                wiggle[:, P[f"{s}_{name}"]] = d(amp) * smooth_noise(rng, t, 0.6, 1.8)
        return target, wiggle
    if kind == "point":
        abd = u(0.0, 50.0)
        return pose(rest, neck_yaw=-0.5 * abd, spine_yaw=-0.15 * abd,
                    **arm("r", u(65.0, 90.0), abd, u(-10.0, 15.0), u(0.0, 15.0))), wiggle
    if kind == "wave":
        f, phase = u(1.8, 3.0), u(0.0, 2.0 * np.pi)
        wiggle[:, P["r_shoulder_rot"]] = d(u(15.0, 25.0)) * np.sin(2 * np.pi * f * t + phase)
        wiggle[:, P["r_elbow"]] = d(10.0) * np.sin(2 * np.pi * f * t + phase + 0.5)
        return pose(rest, **arm("r", u(20.0, 45.0), u(60.0, 85.0), -u(50.0, 75.0),
                                u(70.0, 95.0))), wiggle
    # shrug / open palms: both forearms forward and out, palms up
    return pose(rest, spine_pitch=u(-3.0, 3.0), neck_roll=u(-8.0, 8.0),
                **arms(u(10.0, 25.0), u(20.0, 35.0), -u(20.0, 40.0), u(80.0, 100.0))), wiggle
