"""The benchmark preset schema (``scenes/*.toml``) and its loader.

A preset is data: typed dataclasses filled from TOML, then ``--set section.key=value``
overrides. Unknown keys, wrong types, out-of-range values, undefined subjects or actions are
:class:`~occpose.errors.ConfigError` naming the file and the key. See ``docs/presets.md`` for
every key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .body import RADIUS_PRESETS, BodyModel, body_model
from .camera import Camera, look_at
from .configio import apply_overrides, build, is_safe_name, opt, read_toml, to_plain
from .errors import ConfigError
from .subjects import Subject

KNOWN_ACTIONS = ("walk", "jog", "box", "gesture", "throw_catch", "sit_down")


@dataclass
class BenchmarkSection:
    """``[benchmark]``: what to generate."""

    name: str = opt("quick")
    seed: int = opt(0, min=0)
    skeleton: str = opt("h36m17", choices=("h36m17", "humaneva15"))
    fps: float = opt(50.0, gt=0)
    frames: int = opt(200, min=2)
    area_radius: float = opt(1.5, gt=0)
    actions: list[str] = opt(list(KNOWN_ACTIONS), nonempty=True)
    levels: list[float] = opt([0.0, 0.1, 0.2, 0.3, 0.4, 0.5], min=0.0, max=0.95, nonempty=True)
    train_subjects: list[str] = opt(["S1", "S2", "S3"])  # may be empty for a test-only benchmark
    test_subjects: list[str] = opt(["S4", "S5"])


@dataclass
class SubjectSection:
    """``[subjects.<name>]``: one procedural person (see :class:`occpose.subjects.Subject`)."""

    height: float = opt(gt=0, max=3.0)
    leg: float = opt(1.0, gt=0)
    arm: float = opt(1.0, gt=0)
    shoulder: float = opt(1.0, gt=0)
    hip: float = opt(1.0, gt=0)
    build: float = opt(1.0, gt=0)


@dataclass
class CameraSection:
    """``[[cameras]]``: one camera of the rig, placed by position and look-at target."""

    name: str = opt()
    position: list[float] = opt(length=3)
    target: list[float] = opt([0.0, 0.0, 1.0], length=3)
    size: list[int] = opt([1000, 1000], length=2, gt=0)
    focal: list[float] = opt([1145.0, 1145.0], length=2, gt=0)
    principal: list[float] | None = opt(None, length=2)
    k: list[float] = opt([0.0, 0.0, 0.0], length=3)
    p: list[float] = opt([0.0, 0.0], length=2)


@dataclass
class BodySection:
    """``[body]``: the cylinder-man radius preset and optional per-group radius overrides (metres)."""

    preset: str = opt("cheng2019", choices=("cheng2019", "anthropometric"))
    radii: dict[str, float] = opt({}, gt=0)


@dataclass
class VisibilitySection:
    """``[visibility]``: the ray-cast truth (ARCHITECTURE.md, Visibility)."""

    rays: int = opt(9, min=1, max=64)
    disk_fraction: float = opt(0.5, min=0.0, max=1.0)
    tolerance: float = opt(0.01, min=0.0, max=0.1)


@dataclass
class OccluderSection:
    """``[occluders]``: what the occluder sampler may place and how hard it searches for a level.

    ``kinds``: occluder kinds drawn uniformly per occluder (``mesh`` draws from ``meshes``).
    ``meshes``: user mesh files (OBJ, PLY, GLB/GLTF, STL, OFF), relative to the preset's folder;
    ``mesh_up`` is their up axis, ``mesh_size`` the range (metres) of their largest extent at full
    size, ``mesh_max_faces`` the most triangles a file may have. ``moving_probability``: chance
    that a box, sphere or mesh moves (slides, rolls, floats, follows). ``tolerance``: a sequence's
    mean occluder_fraction must lie within +-tolerance of its level. ``max_occluders``: occluders
    (groups) per layout; ``max_evaluations``: label evaluations per sequence for the search.
    ``max_size``: largest dimension (metres) of any occluder. ``clearance``: metres kept between
    every occluder and the body in every frame; ``min_camera_distance``: metres (along the view
    direction) kept between the camera and every occluder. ``max_speed``: m/s of moving
    occluders. ``max_image_fraction``: the largest fraction of the image occluders may hide.
    """

    kinds: list[str] = opt(["wall", "pillar", "box", "sphere", "furniture"], nonempty=True,
                           choices=("wall", "pillar", "box", "sphere", "furniture", "mesh"))
    meshes: list[str] = opt([])
    moving_probability: float = opt(0.4, min=0, max=1)
    tolerance: float = opt(0.05, gt=0, max=0.5)
    max_occluders: int = opt(3, min=1, max=8)
    max_evaluations: int = opt(30, min=1, max=1000)
    max_size: float = opt(3.0, gt=0, max=20.0)
    clearance: float = opt(0.05, min=0, max=1.0)
    min_camera_distance: float = opt(1.0, gt=0, max=20.0)
    max_speed: float = opt(1.2, gt=0, max=5.0)
    max_image_fraction: float = opt(0.6, gt=0, max=1)
    mesh_size: list[float] = opt([0.6, 1.6], length=2, gt=0, max=20.0)
    mesh_up: str = opt("z", choices=("y", "z"))
    mesh_max_faces: int = opt(5000, min=1)

    def __post_init__(self) -> None:
        """Check values also when built in code (TOML presets are checked by ``build`` first)."""
        import dataclasses

        from .configio import _check_meta

        for f in dataclasses.fields(self):
            _check_meta(dict(f.metadata), getattr(self, f.name), f"occluders.{f.name}", "[occluders]")
        suffixes = (".obj", ".ply", ".glb", ".gltf", ".stl", ".off")
        for i, name in enumerate(self.meshes):
            if not name.lower().endswith(suffixes):
                raise ConfigError(f"[occluders]: 'occluders.meshes[{i}]' = {name!r} must be a mesh "
                                  f"file ending in {', '.join(suffixes)}")
        if self.mesh_size[0] > self.mesh_size[1]:
            raise ConfigError(f"[occluders]: 'occluders.mesh_size' must be [smallest, largest], "
                              f"got {self.mesh_size}")
        if "mesh" in self.kinds and not self.meshes:
            raise ConfigError("[occluders]: 'occluders.kinds' includes 'mesh' but 'occluders.meshes' "
                              "lists no mesh files")
        if self.meshes and "mesh" not in self.kinds:
            raise ConfigError("[occluders]: 'occluders.meshes' lists mesh files but "
                              "'occluders.kinds' lacks 'mesh'; add it to use them")


@dataclass
class HeuristicsSection:
    """``[heuristics]``: the cheap 2D occlusion labels of Wang et al. (section 4).

    Units: ``clustered_space = "camera"`` measures the xy distance between joints in camera-frame
    metres (the paper, epsilon = 0.06); ``"normalized"`` measures it in VideoPose3D normalised
    screen units (the image width spans 2). ``boxed_delta`` is the boxes' half-width in
    normalised screen units (the paper states no unit; 0.03 is 15 px of a 1000 px wide image).

    Readings of the text (README, "The heuristics as written"): ``clustered_clusters =
    "neighbours"`` forms one cluster from each joint and its epsilon-neighbours, as section 4.1
    writes; ``"chained"`` joins neighbours of neighbours into one cluster. ``boxed_spine =
    "boxed"`` lets the torso box occlude every joint but its four corners, as section 4.2 writes;
    ``"exempt"`` also exempts the spine joints (Hip, Spine, Thorax).
    """

    clustered_space: str = opt("camera", choices=("camera", "normalized"))
    clustered_epsilon: float = opt(0.06, gt=0)
    clustered_clusters: str = opt("neighbours", choices=("neighbours", "chained"))
    boxed_delta: float = opt(0.03, gt=0)
    boxed_spine: str = opt("boxed", choices=("boxed", "exempt"))


@dataclass
class RenderSection:
    """``[render]``: the Blender backend (frames, masks and Blender ray-cast labels).

    ``resolution`` and ``samples`` are bounded by Blender's own limits (65536 pixels a side,
    16777216 samples); what fits on a machine is checked by the size estimate
    (:mod:`occpose.sizes`) before a render starts.
    """

    engine: str = opt("workbench", choices=("cycles", "workbench", "eevee"))
    device: str = opt("cpu", choices=("cpu", "gpu"))
    resolution: list[int] = opt([256, 256], length=2, min=16, max=65536)   # Blender's own limits
    samples: int = opt(16, min=1, max=16777216)
    frame_stride: int = opt(1, min=1)
    subjects: list[str] = opt([])
    randomize: bool = opt(True)


@dataclass
class NoiseSection:
    """``[train.noise]``: the detector-noise model for 2D inputs (``keypoints2d = "noise"``).

    Per joint-frame, from the exact projection (see :mod:`occpose.harness.inputs`): Gaussian
    noise of ``visible_std`` px per axis on visible joints; on hidden joints (ray-cast
    ``occluded`` or ``out_of_frame``) ``occluded_std`` px, plus with ``outlier_prob`` an outlier
    displacement of ``outlier_std`` px, and with ``dropout_prob`` a dropout (the joint holds its
    last detected position, or the root's position before any detection). Results are clipped
    to the image. Pixel values are for a 1000 px wide image and scale with the image width; the
    random stream is derived from the sequence id, so every model sees the same inputs.

    Per joint state (the dataset's exclusive labels, e.g. as fitted by ``occpose-bench
    calibrate-noise``), optional: ``body_*`` (``occluded_by_body``), ``object_*``
    (``occluded_by_object``), ``out_of_frame_*`` -- ``_std``, ``_outlier_prob``,
    ``_outlier_std`` -- replace ``occluded_std``/``outlier_prob``/``outlier_std`` for that
    state; unset ones fall back to them. ``visible_outlier_prob``/``visible_outlier_std`` give
    visible joints outliers too (unset: none). With none of them set the model, its random
    draws and the stored configuration are exactly those of the five-field model.
    """

    visible_std: float = opt(3.0, min=0)
    occluded_std: float = opt(12.0, min=0)
    outlier_prob: float = opt(0.10, min=0, max=1)
    outlier_std: float = opt(60.0, min=0)
    dropout_prob: float = opt(0.05, min=0, max=1)
    visible_outlier_prob: float | None = opt(None, min=0, max=1)
    visible_outlier_std: float | None = opt(None, min=0)
    body_std: float | None = opt(None, min=0)
    body_outlier_prob: float | None = opt(None, min=0, max=1)
    body_outlier_std: float | None = opt(None, min=0)
    object_std: float | None = opt(None, min=0)
    object_outlier_prob: float | None = opt(None, min=0, max=1)
    object_outlier_std: float | None = opt(None, min=0)
    out_of_frame_std: float | None = opt(None, min=0)
    out_of_frame_outlier_prob: float | None = opt(None, min=0, max=1)
    out_of_frame_outlier_std: float | None = opt(None, min=0)

    def to_dict(self) -> dict:
        """Plain dict of the fields, leaving out the per-state ones that are unset (so that a
        configuration without them hashes, and is stored, as before they existed)."""
        return noise_dict(self)


NOISE_STATE_FIELDS = ("visible_outlier_prob", "visible_outlier_std",
                      "body_std", "body_outlier_prob", "body_outlier_std",
                      "object_std", "object_outlier_prob", "object_outlier_std",
                      "out_of_frame_std", "out_of_frame_outlier_prob", "out_of_frame_outlier_std")


def noise_dict(noise) -> dict:
    """A :class:`NoiseSection` or dict of its fields -> plain dict without unset per-state fields."""
    d = to_plain(noise) if not isinstance(noise, dict) else dict(noise)
    return {k: v for k, v in d.items() if not (k in NOISE_STATE_FIELDS and v is None)}


@dataclass
class TrainSection:
    """``[train]``: models trained by ``occpose-bench run`` and their default hyper-parameters.

    ``keypoints2d``: 2D inputs, ``"exact"`` projections, ``"noise"`` (the ``[train.noise]``
    detector-noise model) or ``"detector:RUN"`` (an image model's predictions saved in RUN).
    ``occlusion_labels``: the occlusion vectors of ``tcn-occ1``/``tcn-occseq``, in training
    (loss target) and as their input at test time. ``dropout``: unset = the model's paper
    default (0.25 for the TCNs, 0.5 for ``linear``). ``batch_size`` is per process.
    ``bn_stats``: ``running`` (VideoPose3D) or ``precise`` (BatchNorm statistics re-estimated
    with the final weights; docs/parity.md). ``validation``: fraction of the training clips
    (subject, action) held out for the per-epoch validation MPJPE; the test split is never used
    while training.
    """

    models: list[str] = opt(["tcn", "tcn-occ1", "tcn-occseq", "tcn-aug", "linear"], nonempty=True,
                            choices=("tcn", "tcn-occ1", "tcn-occseq", "tcn-aug", "linear"))
    seeds: list[int] = opt([0, 1, 2], min=0, nonempty=True)
    epochs: int = opt(20, min=1)
    batch_size: int = opt(1024, min=1)
    lr: float = opt(1e-3, gt=0)
    lr_decay: float = opt(0.95, gt=0, max=1)
    filter_widths: list[int] = opt([3, 3, 3], min=1, nonempty=True)
    channels: int = opt(1024, min=1)
    dropout: float | None = opt(None, min=0, max=1)
    causal: bool = opt(False)
    keypoints2d: str = opt("noise")
    occlusion_labels: str = opt("truth", choices=("truth", "clustered", "boxed", "boxed_depth"))
    lambda_pose: float = opt(1.0, min=0)
    lambda_occ: float = opt(0.1, min=0)
    device: str = opt("auto")
    bn_stats: str = opt("running", choices=("running", "precise"))
    validation: float = opt(0.1, min=0, max=0.9)
    noise: NoiseSection = field(default_factory=NoiseSection)


@dataclass
class ImageSection:
    """``[image]``: the image model of :mod:`occpose.image` (Sarandi et al.: volumetric heatmaps,
    soft-argmax, synthetic occlusion augmentation).

    The defaults are the quick CPU model: a ResNet-18 layout at 1/4 width on 128 px crops, output
    stride 16, 8x8 heatmaps (``occpose.image.SIZES["resnet50"]`` is the GPU model: bottleneck
    ResNet-50, 256 px, stride 16, 16x16 heatmaps, as in the paper). Crops: the box of the
    projected joints, padded by ``box_margin`` of its larger side, is re-projected so that its
    larger side fills ``box_fill`` of the crop. Heatmaps:
    ``depth_bins`` over +-``depth_range`` metres relative to the root; the root-depth head has
    ``root_bins`` over ``root_range`` in normalised metres (depth x crop_size / crop focal), trained
    with weight ``root_weight``; ``root_depth`` chooses predicted or true root depth at test time.
    Augmentation per training image: with probability ``p_occlude``, ``occluder_count`` (min, max)
    occluders whose larger side is ``occluder_scale`` (min, max) x crop size, from
    ``occluder_sources`` (``procedural``, ``rendered`` cut-outs of the benchmark's occluders,
    ``folder`` = RGBA cut-outs in ``occluder_folder``); geometric jitter, flips, colour jitter.
    ``train_levels`` (empty = all) restricts the training sequences to some occlusion levels.
    ``in_run = true`` makes ``occpose-bench run`` render every subject, train the image model
    with ``p_occlude = 0`` and with the preset's value, and train the TCN on its 2D detections.
    """

    crop_size: int = opt(128, min=32)
    backbone_depth: int = opt(18, choices=(10, 18, 34, 50, 101))
    backbone_width: int = opt(16, min=4)
    output_stride: int = opt(16, choices=(8, 16, 32))
    depth_bins: int = opt(16, min=2)
    depth_range: float = opt(1.0, gt=0)
    root_bins: int = opt(32, min=2)
    root_range: list[float] = opt([0.5, 4.5], length=2, min=0)
    root_weight: float = opt(0.1, min=0)
    root_depth: str = opt("predicted", choices=("predicted", "truth"))
    box_fill: float = opt(0.9, gt=0, max=1)
    box_margin: float = opt(0.1, min=0, max=1)
    epochs: int = opt(10, min=1)
    batch_size: int = opt(32, min=1)
    lr: float = opt(1e-3, gt=0)
    lr_decay: float = opt(0.9, gt=0, max=1)
    weight_decay: float = opt(0.0, min=0)
    p_occlude: float = opt(0.5, min=0, max=1)
    occluder_count: list[int] = opt([1, 8], length=2, min=1)
    occluder_scale: list[float] = opt([0.1, 0.5], length=2, gt=0, max=2)
    occluder_sources: list[str] = opt(["procedural"], nonempty=True,
                                      choices=("procedural", "rendered", "folder"))
    occluder_folder: str = opt("")
    scale_jitter: float = opt(0.15, min=0, max=0.9)
    shift_jitter: float = opt(0.05, min=0, max=0.5)
    rotation_deg: float = opt(15.0, min=0, max=180)
    flip_prob: float = opt(0.5, min=0, max=1)
    color_jitter: float = opt(0.2, min=0, max=1)
    train_levels: list[float] = opt([], min=0, max=0.95)
    frame_stride: int = opt(1, min=1)
    flip_test: bool = opt(True)
    val_frames: int = opt(256, min=0)
    workers: int = opt(0, min=0)
    device: str = opt("auto")
    seed: int = opt(0, min=0)
    in_run: bool = opt(False)


@dataclass
class Config:
    """A resolved preset."""

    benchmark: BenchmarkSection = field(default_factory=BenchmarkSection)
    subjects: dict[str, SubjectSection] = opt({})
    cameras: list[CameraSection] = opt([])
    body: BodySection = field(default_factory=BodySection)
    visibility: VisibilitySection = field(default_factory=VisibilitySection)
    occluders: OccluderSection = field(default_factory=OccluderSection)
    heuristics: HeuristicsSection = field(default_factory=HeuristicsSection)
    render: RenderSection = field(default_factory=RenderSection)
    train: TrainSection = field(default_factory=TrainSection)
    image: ImageSection = field(default_factory=ImageSection)
    source: str = field(default="<config>", init=False, compare=False)

    # -- derived objects -------------------------------------------------------------------
    def subject(self, name: str) -> Subject:
        s = self.subjects[name]
        return Subject(name, s.height, s.leg, s.arm, s.shoulder, s.hip, s.build)

    def body_model(self, subject: str) -> BodyModel:
        """The cylinder-man of a subject under this preset's [body] settings."""
        s = self.subject(subject)
        return body_model(self.body.preset, s.height, s.build, self.body.radii)

    def camera_objects(self, rendered: bool = False) -> list[Camera]:
        """The rig; ``rendered=True`` scales intrinsics to ``render.resolution`` (Blender backend)."""
        cams = [make_camera(c) for c in self.cameras]
        if rendered:
            cams = [c.scaled(*self.render.resolution) for c in cams]
        return cams

    def to_dict(self) -> dict:
        d = to_plain(self)
        d.pop("source")
        d["train"]["noise"] = noise_dict(d["train"]["noise"])
        return d

    def sha256(self) -> str:
        """Hash of the resolved configuration (what a benchmark directory was made from)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def make_camera(c: CameraSection) -> Camera:
    w, h = c.size
    cx, cy = c.principal if c.principal is not None else (w / 2.0, h / 2.0)
    try:
        rot = look_at(c.position, c.target)
    except ValueError as e:
        raise ConfigError(f"camera {c.name!r}: {e}") from None
    return Camera(name=c.name, width=w, height=h, fx=c.focal[0], fy=c.focal[1], cx=cx, cy=cy,
                  rot_world_to_cam=rot, position=np.array(c.position, dtype=np.float64),
                  k=tuple(c.k), p=tuple(c.p))


def _validate(cfg: Config, file: str, imported_actions: tuple[str, ...] = ()) -> None:
    b = cfg.benchmark
    for a in b.actions:
        if a not in KNOWN_ACTIONS and a not in imported_actions:
            raise ConfigError(f"{file}: 'benchmark.actions' names unknown action {a!r}; "
                              f"known actions: {', '.join(KNOWN_ACTIONS)}")
    if len(set(b.actions)) != len(b.actions):
        raise ConfigError(f"{file}: 'benchmark.actions' lists an action twice")
    if len(set(b.levels)) != len(b.levels):
        raise ConfigError(f"{file}: 'benchmark.levels' lists a level twice")
    for key in ("train_subjects", "test_subjects"):
        for s in getattr(b, key):
            if s not in cfg.subjects:
                raise ConfigError(f"{file}: 'benchmark.{key}' names subject {s!r}, which the preset "
                                  f"does not define (defined: {', '.join(cfg.subjects) or 'none'}; "
                                  f"add a [subjects.{s}] table)")
    if not b.train_subjects and not b.test_subjects:
        raise ConfigError(f"{file}: 'benchmark.train_subjects' and 'benchmark.test_subjects' are both "
                          f"empty; name at least one subject")
    overlap = set(b.train_subjects) & set(b.test_subjects)
    if overlap:
        raise ConfigError(f"{file}: subjects {sorted(overlap)} are in both train_subjects and test_subjects")
    for name in cfg.subjects:
        try:
            cfg.subject(name).bone_lengths()
        except ValueError as e:
            raise ConfigError(f"{file}: 'subjects.{name}': {e}") from None
    kp = cfg.train.keypoints2d
    if kp not in ("exact", "noise") and not (kp.startswith("detector:") and len(kp) > len("detector:")):
        raise ConfigError(f"{file}: 'train.keypoints2d' must be exact, noise or detector:RUN, got {kp!r}")
    if len(set(cfg.train.models)) != len(cfg.train.models):
        raise ConfigError(f"{file}: 'train.models' lists a model twice")
    for i, mesh in enumerate(cfg.occluders.meshes):
        path = Path(file).parent / mesh
        if not path.is_file():
            raise ConfigError(f"{file}: 'occluders.meshes[{i}]' names {path}, which does not exist "
                              f"(paths are relative to the preset's folder)")
    groups = RADIUS_PRESETS[cfg.body.preset]
    for g in cfg.body.radii:
        if g not in groups:
            raise ConfigError(f"{file}: unknown key 'body.radii.{g}'; expected segment groups "
                              f"{', '.join(groups)}")
    if not cfg.cameras:
        raise ConfigError(f"{file}: no cameras; add at least one [[cameras]] table")
    names = [c.name for c in cfg.cameras]
    if len(set(names)) != len(names):
        raise ConfigError(f"{file}: camera names must be unique, got {names}")
    for i, c in enumerate(cfg.cameras):
        if not is_safe_name(c.name):
            raise ConfigError(f"{file}: 'cameras[{i}].name' must be letters, digits, '-' or '_', got {c.name!r}")
        make_camera(c)
    for s in cfg.render.subjects:
        if s not in cfg.subjects:
            raise ConfigError(f"{file}: 'render.subjects' names subject {s!r}, which the preset does "
                              f"not define")
    rw, rh = cfg.render.resolution
    for c in cfg.cameras:
        if abs(rw / rh - c.size[0] / c.size[1]) > 1e-6:
            raise ConfigError(f"{file}: 'render.resolution' {rw}x{rh} must keep camera {c.name!r}'s "
                              f"aspect ratio {c.size[0]}x{c.size[1]}")
    for s in cfg.subjects:
        if not is_safe_name(s):
            raise ConfigError(f"{file}: subject name {s!r} must be letters, digits, '-' or '_'")


def config_from_dict(data: dict, file: str = "<config>", imported_actions: tuple[str, ...] = ()) -> Config:
    """Build and validate a Config from a raw TOML dict.

    Args:
        imported_actions: action names that come with imported motion (BVH, VideoPose3D) and
            are therefore allowed besides the procedural :data:`KNOWN_ACTIONS`.
    """
    cfg = build(Config, dict(data), "", file)
    cfg.source = file
    _validate(cfg, file, imported_actions)
    return cfg


def _merge(base: dict, top: dict) -> dict:
    """Deep-merge TOML tables; values (including arrays of tables) in ``top`` win."""
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_preset(path: str | Path, _seen: tuple = ()) -> dict:
    """Read a preset and its ``include = [...]`` files (paths relative to the including file).

    Included files are merged in order; the including file's own values win.
    """
    path = Path(path)
    if path.resolve() in _seen:
        raise ConfigError(f"{path}: include cycle through {' -> '.join(str(p) for p in _seen)}")
    data = read_toml(path)
    includes = data.pop("include", [])
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ConfigError(f"{path}: 'include' must be a list of file names, got {includes!r}")
    merged: dict = {}
    for inc in includes:
        merged = _merge(merged, read_preset(path.parent / inc, _seen + (path.resolve(),)))
    return _merge(merged, data)


def load_config(path: str | Path, overrides: list[str] | None = None, seed: int | None = None) -> Config:
    """Read a preset (with its includes), apply ``--set`` overrides and ``--seed``, validate.

    Raises:
        ConfigError: naming the file and key for any problem.
    """
    data = read_preset(path)
    data = apply_overrides(data, overrides or [])
    if seed is not None:
        data.setdefault("benchmark", {})["seed"] = seed
    return config_from_dict(data, str(path))
