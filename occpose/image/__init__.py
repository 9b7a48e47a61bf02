"""The image model: 3D pose from rendered frames (Sarandi et al., synthetic occlusion augmentation).

A ResNet v2 backbone (``backbone``) with a volumetric heatmap head, soft-argmax and a 1D
root-depth head (``volumetric``) on person crops re-projected around the joints' box
(``crops``), trained with an L1 loss on root-relative camera-frame joints and synthetic
occluders pasted into the crops (``paster``, ``occluder_sources``). Library API:

* :func:`train_image_model` -- train or resume a run on a benchmark's rendered train frames;
* :func:`predict_benchmark` -- write ``RUN/keypoints2d`` (the harness's ``detector:RUN`` 2D
  source) and ``RUN/predictions3d`` for every sequence;
* :func:`evaluate_image_run` -- MPJPE etc. by occlusion level; :func:`compare_image_runs` /
  :func:`ablation_table` -- the with/without-augmentation table;
* :func:`image_section` -- resolve the ``[image]`` settings; :data:`SIZES` -- named sizes.

Modules: ``settings``, ``backbone``, ``volumetric``, ``crops``, ``data``, ``paster``,
``occluder_sources``, ``train``, ``predict``, ``evaluate``, ``toy`` (Pillow-drawn benchmarks
for tests). torch is imported by this package; the core of occpose never imports it.
"""

from .evaluate import ablation_table, compare_image_runs, evaluate_image_run
from .occluder_sources import FolderOccluders, ProceduralOccluders, RenderedOccluders, load_cutout
from .paster import OcclusionPaster, PasteResult
from .predict import interpolate_frames, load_image_run, predict_benchmark
from .settings import SIZES, ImageSection, image_section
from .train import ImageTrainResult, build_model, train_image_model
from .volumetric import PoseNet, back_project, soft_argmax

__all__ = ["ImageSection", "SIZES", "image_section", "PoseNet", "build_model", "soft_argmax",
           "back_project", "OcclusionPaster", "PasteResult", "ProceduralOccluders",
           "RenderedOccluders", "FolderOccluders", "load_cutout", "train_image_model",
           "ImageTrainResult", "load_image_run", "predict_benchmark", "interpolate_frames",
           "evaluate_image_run", "compare_image_runs", "ablation_table"]
