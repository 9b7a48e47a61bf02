"""The VideoPose3D dataset class that ``export --format videopose3d`` writes next to its files.

VideoPose3D's ``run.py`` picks its dataset class in a switch on ``-d NAME`` and refuses unknown
names. ``occpose_dataset.py`` (the text in :data:`DATASET_CLASS_SOURCE`) is a dataset class in
VideoPose3D's own API (subclass of its ``MocapDataset``, a ``Skeleton`` with parents and
left/right joints, camera dicts normalised as its ``Human36mDataset`` does: ``center`` and
``focal_length`` in units of half the image width, translation in metres and a 9-number
``intrinsic`` vector), reading everything it needs from the exported ``data_3d_<name>.npz``
(``metadata`` holds the skeleton, the cameras per subject and the frame rate). Set up::

    cp EXPORT/data_*_<name>*.npz VideoPose3D/data/
    cp EXPORT/occpose_dataset.py VideoPose3D/common/
    cd VideoPose3D && sed -i "s/$RUN_PY_LINE/$RUN_PY_REPLACEMENT/" run.py

The one changed line (:data:`RUN_PY_LINE` -> :data:`RUN_PY_REPLACEMENT`) is the ``else`` branch of
the dataset switch: any ``-d`` name that is not ``h36m``, ``humaneva*`` or ``custom*`` loads
``data/data_3d_<name>.npz`` with this class. Then, e.g. (subjects from the export's split)::

    python run.py -d occpose -k gt -str S1,S2,S3 -ste S4,S5 -arc 3,3,3 -e 20
"""

from __future__ import annotations

from pathlib import Path

from ..dataset.atomic import atomic_write_text

FILE_NAME = "occpose_dataset.py"
RUN_PY_LINE = "raise KeyError('Invalid dataset')"
RUN_PY_REPLACEMENT = ("from common.occpose_dataset import OccposeDataset; "
                      "dataset = OccposeDataset(dataset_path)")
SED_COMMAND = (f'sed -i "s/{RUN_PY_LINE}/{RUN_PY_REPLACEMENT}/" run.py')

DATASET_CLASS_SOURCE = '''\
"""VideoPose3D dataset class for occpose exports (written by `occpose-bench export --format
videopose3d`; the same file serves every occpose export).

Install: copy this file to VideoPose3D/common/ and the export's data_3d_<name>.npz and
data_2d_<name>_gt.npz to VideoPose3D/data/, then change one line of run.py's dataset switch:

    raise KeyError('Invalid dataset')
becomes
    from common.occpose_dataset import OccposeDataset; dataset = OccposeDataset(dataset_path)

and train and evaluate with, e.g.

    python run.py -d <name> -k gt -str S1,S2,S3 -ste S4,S5 -arc 3,3,3 -e 20

Everything the class needs is in the data_3d file's `metadata`: the 17 (or 15) joint skeleton
(parents, left and right joints), per subject the camera list in the order of the 2D file
(pixels and metres, converted here exactly as VideoPose3D's Human36mDataset converts its
tables), and the frame rate. Action names are "<action> L<level*100>" (default) or, when exported
with --group-by level, "L<level*100> <action>", so run.py's per-action table, which groups by the
first word of the action name, is one row per occlusion level.
"""

import numpy as np

from common.camera import normalize_screen_coordinates
from common.mocap_dataset import MocapDataset
from common.skeleton import Skeleton


class OccposeDataset(MocapDataset):
    def __init__(self, path, remove_static_joints=True):
        # remove_static_joints is accepted for the run.py call signature; occpose exports hold
        # only the joints of their layout, so there is nothing to remove.
        data = np.load(path, allow_pickle=True)
        if 'metadata' not in data.files:
            raise KeyError(path + ': no metadata; re-export it with occpose-bench export --format videopose3d')
        meta = data['metadata'].item()
        if 'skeleton' not in meta or 'cameras' not in meta:
            raise KeyError(path + ': metadata lacks skeleton/cameras; re-export it with a current occpose')
        skel = meta['skeleton']
        super().__init__(fps=meta['fps'], skeleton=Skeleton(parents=list(skel['parents']),
                                                            joints_left=list(skel['joints_left']),
                                                            joints_right=list(skel['joints_right'])))
        self.joint_names = list(skel['joint_names'])
        self._cameras = {}
        for subject, cams in meta['cameras'].items():
            self._cameras[subject] = [self._normalised(cam) for cam in cams]
        self._data = {}
        for subject, actions in data['positions_3d'].item().items():
            self._data[subject] = {}
            for action, positions in actions.items():
                self._data[subject][action] = {'positions': positions, 'cameras': self._cameras[subject]}

    @staticmethod
    def _normalised(cam):
        out = {}
        for key, value in cam.items():
            out[key] = value if key in ('id', 'res_w', 'res_h') else np.array(value, dtype='float32')
        w, h = out['res_w'], out['res_h']
        out['center'] = normalize_screen_coordinates(out['center'], w=w, h=h).astype('float32')
        out['focal_length'] = out['focal_length'] / w * 2
        out['intrinsic'] = np.concatenate((out['focal_length'], out['center'],
                                           out['radial_distortion'], out['tangential_distortion']))
        return out

    def supports_semi_supervised(self):
        return True
'''


def write_dataset_class(out_dir) -> Path:
    """Write ``occpose_dataset.py`` into ``out_dir`` (atomically); returns its path."""
    path = Path(out_dir) / FILE_NAME
    atomic_write_text(path, DATASET_CLASS_SOURCE)
    return path
