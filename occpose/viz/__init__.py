"""Drawing for inspection and contact sheets (pillow and matplotlib, imported lazily).

* :mod:`.frames` -- ``draw_skeleton_2d``, ``draw_occluders_2d``, ``render_frame``,
  ``contact_sheet``, ``joint_states`` and the state colours (visible green, occluded by the body
  orange, by an object red, out of frame grey).
* :mod:`.scene3d` -- ``plot_sequence_3d``: skeleton over time, floor, camera, occluders.
"""

from .frames import (OCCLUDED_BODY, OCCLUDED_OBJECT, OCCLUDED_OTHER, OUT_OF_FRAME, STATE_COLORS,
                     STATE_NAMES, VISIBLE, contact_sheet, draw_occluders_2d, draw_skeleton_2d,
                     joint_states, legend_strip, occluder_outlines, render_frame)
from .scene3d import plot_sequence_3d

__all__ = [
    "VISIBLE", "OCCLUDED_BODY", "OCCLUDED_OBJECT", "OUT_OF_FRAME", "OCCLUDED_OTHER",
    "STATE_COLORS", "STATE_NAMES", "contact_sheet", "draw_occluders_2d", "draw_skeleton_2d",
    "joint_states", "legend_strip", "occluder_outlines", "render_frame", "plot_sequence_3d",
]
