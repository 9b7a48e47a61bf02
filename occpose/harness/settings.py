"""Per-run training settings (:class:`RunSettings`), saved as ``RUN/settings.json``.

One run is one model trained with one seed. ``settings.json`` tells ``evaluate`` everything it
needs to rebuild the model and its inputs (model name, widths, channels, 2D input source,
occlusion label source, noise model); the checkpoint holds the weights. A run directory is
resumed only with the same settings (``epochs`` may grow: it extends the run).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..dataset.atomic import atomic_write_text
from ..dataset.jsonio import read_json_object
from ..errors import OccposeError

RUN_FORMAT = "occpose-run/1"
SETTINGS_FILE = "settings.json"
LABEL_SOURCES = {"truth": "occluded", "clustered": "occluded_clustered",
                 "boxed": "occluded_boxed", "boxed_depth": "occluded_boxed_depth"}
BN_STATS = ("running", "precise")
# Fields that may differ between a run directory and the arguments that resume it.
_NOT_IDENTITY = ("epochs",)
_OCC_ONLY = ("occlusion_labels", "lambda_pose", "lambda_occ")


def _augment_defaults() -> dict:
    """Keyword defaults of :func:`occpose.models.occlude_keypoints`, written out explicitly."""
    import inspect

    from ..models import occlude_keypoints

    return {k: p.default for k, p in inspect.signature(occlude_keypoints).parameters.items()
            if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}


def _noise_defaults() -> dict:
    from ..config import NoiseSection

    return NoiseSection().to_dict()


@dataclass
class RunSettings:
    """Everything that defines one training run (JSON-serialisable, plain types only).

    Attributes:
        model: one of :data:`occpose.models.MODEL_NAMES`.
        seed: initialisation, shuffling, flips, dropout and augmentation all derive from it.
        epochs, batch_size (per process), lr, lr_decay (per epoch): VideoPose3D's schedule.
        filter_widths, channels, dropout (None = the model's paper default), causal: the model.
        keypoints2d: ``"exact"``, ``"noise"`` or ``"detector:RUN"`` (see :mod:`.inputs`).
        occlusion_labels: ``truth``/``clustered``/``boxed``/``boxed_depth``: the occlusion
            vectors of the occlusion-aware models, as loss target and as test-time input.
        lambda_pose, lambda_occ: λ1, λ2 of Wang et al.'s loss (occlusion-aware models only).
        noise: the detector-noise model parameters (:class:`occpose.config.NoiseSection`).
        flip_augment: every training window also flipped horizontally in each epoch (VideoPose3D).
        bn_momentum: (start, end) BatchNorm momentum, decayed exponentially over the epochs.
        bn_stats: ``running`` (VideoPose3D: evaluate with the running averages) or ``precise``
            (re-estimated with the final weights after the last epoch; docs/parity.md).
        validation: fraction of the training clips held out for the per-epoch validation MPJPE
            (:func:`occpose.harness.train.validation_split`; 0 = none).
        max_norm: max-norm constraint of ``linear`` after each step (0 = off).
        augment: keyword arguments of :func:`occpose.models.occlude_keypoints` (``tcn-aug``).
        model_kwargs: further :func:`occpose.models.build_model` arguments (``occ_channels`` ...).
        skeleton: joint layout (``h36m17``/``humaneva15``), filled from the data's joint count.
    """

    model: str
    seed: int = 0
    epochs: int = 20
    batch_size: int = 1024
    lr: float = 1e-3
    lr_decay: float = 0.95
    filter_widths: list[int] = field(default_factory=lambda: [3, 3, 3])
    channels: int = 1024
    dropout: float | None = None
    causal: bool = False
    keypoints2d: str = "noise"
    occlusion_labels: str = "truth"
    lambda_pose: float = 1.0
    lambda_occ: float = 0.1
    noise: dict = field(default_factory=_noise_defaults)
    flip_augment: bool = True
    bn_momentum: list[float] = field(default_factory=lambda: [0.1, 0.001])
    bn_stats: str = "running"
    validation: float = 0.1
    max_norm: float = 1.0
    augment: dict = field(default_factory=_augment_defaults)
    model_kwargs: dict = field(default_factory=dict)
    skeleton: str = ""

    @classmethod
    def from_train_section(cls, train, model: str, seed: int, **overrides) -> "RunSettings":
        """Settings from a preset's :class:`~occpose.config.TrainSection`, then overrides."""
        base = dict(model=model, seed=seed, epochs=train.epochs, batch_size=train.batch_size,
                    lr=train.lr, lr_decay=train.lr_decay, filter_widths=list(train.filter_widths),
                    channels=train.channels, dropout=train.dropout, causal=train.causal,
                    keypoints2d=train.keypoints2d, occlusion_labels=train.occlusion_labels,
                    lambda_pose=train.lambda_pose, lambda_occ=train.lambda_occ,
                    noise=train.noise.to_dict(), bn_stats=train.bn_stats,
                    validation=train.validation)
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    @classmethod
    def from_dict(cls, d: dict, where: str = "settings") -> "RunSettings":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise OccposeError(f"{where}: unknown run setting(s) {', '.join(unknown)}")
        try:
            return cls(**d)
        except TypeError as e:
            raise OccposeError(f"{where}: malformed run settings ({e})") from None

    def to_dict(self) -> dict:
        return asdict(self)

    def relevant(self) -> dict:
        """The settings that affect this model (e.g. no occlusion labels for ``tcn``)."""
        d = self.to_dict()
        unused = {"tcn": _OCC_ONLY + ("augment", "max_norm"),
                  "tcn-aug": _OCC_ONLY + ("max_norm",),
                  "tcn-occ1": ("augment", "max_norm"), "tcn-occseq": ("augment", "max_norm"),
                  "linear": _OCC_ONLY + ("augment", "filter_widths", "causal")}.get(self.model, ())
        if self.keypoints2d != "noise":
            unused += ("noise",)
        for k in unused:
            d.pop(k)
        return d

    def identity(self) -> dict:
        """The settings that must match to resume a run (the relevant ones but ``epochs``)."""
        d = self.relevant()
        for k in _NOT_IDENTITY:
            d.pop(k)
        return d

    @property
    def uses_occlusion(self) -> bool:
        return self.model in ("tcn-occ1", "tcn-occseq")

    @property
    def label_array(self) -> str:
        """Dataset array name of :attr:`occlusion_labels` (e.g. ``occluded_boxed``)."""
        return LABEL_SOURCES[self.occlusion_labels]

    def validate(self) -> "RunSettings":
        """Check values a user can get wrong; raise OccposeError with a one-line message."""
        from ..models import MODEL_NAMES
        from .inputs import parse_source

        if self.model not in MODEL_NAMES:
            raise OccposeError(f"unknown model {self.model!r}; known models: {', '.join(MODEL_NAMES)}")
        fw = self.filter_widths
        if not fw or any(not isinstance(w, int) or w < 1 or w % 2 == 0 for w in fw):
            raise OccposeError(f"filter widths must be odd integers >= 1, e.g. 3,3,3; got {fw}")
        if self.occlusion_labels not in LABEL_SOURCES:
            raise OccposeError(f"unknown occlusion label source {self.occlusion_labels!r}; expected "
                               f"one of {', '.join(LABEL_SOURCES)}")
        parse_source(self.keypoints2d)
        if self.bn_stats not in BN_STATS:
            raise OccposeError(f"unknown bn_stats {self.bn_stats!r}; expected one of "
                               f"{', '.join(BN_STATS)}")
        if not 0 <= self.validation < 1:
            raise OccposeError(f"invalid validation {self.validation!r}: expected a fraction of "
                               f"the training clips in [0, 1)")
        for name, ok in (("epochs", self.epochs >= 1), ("batch_size", self.batch_size >= 2),
                         ("lr", self.lr > 0), ("lr_decay", 0 < self.lr_decay <= 1),
                         ("channels", self.channels >= 1),
                         ("dropout", self.dropout is None or 0 <= self.dropout < 1),
                         ("lambda_pose", self.lambda_pose >= 0),
                         ("lambda_occ", self.lambda_occ >= 0), ("seed", self.seed >= 0)):
            if not ok:
                raise OccposeError(f"invalid {name} {getattr(self, name)!r}")
        return self


def write_settings(run_dir: Path, settings: RunSettings, data: dict) -> None:
    """Write ``RUN/settings.json`` atomically: format, settings and the training data summary."""
    doc = {"format": RUN_FORMAT, "settings": settings.to_dict(), "data": data}
    atomic_write_text(Path(run_dir) / SETTINGS_FILE, json.dumps(doc, indent=1) + "\n")


def read_settings(run_dir: str | Path) -> tuple[RunSettings, dict]:
    """(settings, data summary) of a run directory; OccposeError if it is not a run."""
    path = Path(run_dir) / SETTINGS_FILE
    if not Path(run_dir).is_dir():
        raise OccposeError(f"{run_dir}: run directory not found")
    doc = read_json_object(path, f"not found; {run_dir} is not a training run (train one with "
                                 f"occpose-bench train)", OccposeError, RUN_FORMAT)
    if "settings" not in doc:
        raise OccposeError(f"{path}: not an {RUN_FORMAT} settings file (no 'settings')")
    return RunSettings.from_dict(doc["settings"], str(path)), doc.get("data", {})
