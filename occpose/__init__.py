"""occpose: a synthetic occlusion benchmark for 3D human pose estimation.

The core (this package's top level) needs numpy only, so Blender's own Python can import it;
torch, scipy, trimesh, pillow and matplotlib are imported inside the modules that need them.
"""

from . import _openblas

_openblas.pin()  # before numpy loads OpenBLAS: the reference kernels where the CPU has them

from .errors import ConfigError, DatasetError, LevelNotReachedError, OccposeError
from .skeleton import H36M_17, HUMANEVA_15, Skeleton, convert_joints, get_skeleton
from .body import BodyModel, Segment, body_model
from .subjects import Subject

__version__ = "0.1.0"

__all__ = [
    "OccposeError", "ConfigError", "DatasetError", "LevelNotReachedError",
    "Skeleton", "H36M_17", "HUMANEVA_15", "convert_joints", "get_skeleton",
    "BodyModel", "Segment", "body_model", "Subject",
]
