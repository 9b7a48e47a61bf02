"""The image model's settings: :class:`~occpose.config.ImageSection` from presets, sizes, flags.

Resolution order (later wins): built-in defaults (the quick CPU model) < the ``[image]`` table of
``--config PRESET`` or else of the configuration stored in the benchmark's manifest < a named
size (:data:`SIZES`) < ``--set image.KEY=VALUE`` overrides < explicit command-line flags.
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from pathlib import Path

from ..config import ImageSection
from ..configio import apply_overrides, build
from ..dataset.manifest import MANIFEST, stored_section
from ..errors import ConfigError

__all__ = ["SIZES", "ImageSection", "image_section", "check_section", "section_dict",
           "section_from_dict", "RUNTIME_KEYS"]

# Named model sizes. ``small``: the quick CPU preset; ``resnet50``: Sarandi et al.'s layout.
SIZES: dict[str, dict] = {
    "small": dict(crop_size=128, backbone_depth=18, backbone_width=16, output_stride=16,
                  depth_bins=16, batch_size=32, workers=0),
    "resnet50": dict(crop_size=256, backbone_depth=50, backbone_width=64, output_stride=16,
                     depth_bins=16, batch_size=64, workers=8),
}

# Keys that do not change what is trained: a run may be resumed with other values.
RUNTIME_KEYS = ("epochs", "device", "workers", "root_depth", "flip_test", "val_frames", "in_run")


def section_dict(sec: ImageSection) -> dict:
    return asdict(sec)


def section_from_dict(data: dict, where: str = "<image>") -> ImageSection:
    """An ImageSection from a plain dict (unknown keys are ConfigError), checked."""
    return check_section(build(ImageSection, dict(data), "image", where), where)


def check_section(sec: ImageSection, where: str = "<image>") -> ImageSection:
    """Cross-field checks that field metadata cannot express; ConfigError names the key."""
    if sec.occluder_count[0] > sec.occluder_count[1]:
        raise ConfigError(f"{where}: 'image.occluder_count' must be [min, max] with min <= max, "
                          f"got {sec.occluder_count}")
    if sec.occluder_scale[0] > sec.occluder_scale[1]:
        raise ConfigError(f"{where}: 'image.occluder_scale' must be [min, max] with min <= max, "
                          f"got {sec.occluder_scale}")
    if sec.root_range[0] >= sec.root_range[1]:
        raise ConfigError(f"{where}: 'image.root_range' must be [low, high] with low < high, "
                          f"got {sec.root_range}")
    if sec.crop_size % sec.output_stride:
        raise ConfigError(f"{where}: 'image.crop_size' {sec.crop_size} must be a multiple of "
                          f"'image.output_stride' {sec.output_stride}")
    if "folder" in sec.occluder_sources and not sec.occluder_folder:
        raise ConfigError(f"{where}: 'image.occluder_sources' names 'folder' but "
                          f"'image.occluder_folder' is empty; give a folder of RGBA cut-outs")
    return sec


def _stored_table(config: str | Path | None, data: str | Path | None) -> tuple[dict, str]:
    """The raw ``[image]`` table of a preset file, else of a benchmark manifest, else {}."""
    if config:
        from ..config import read_preset

        return dict(read_preset(config).get("image") or {}), str(config)
    if data and (Path(data) / MANIFEST).is_file():
        return stored_section(data, "image"), str(data)
    return {}, "<defaults>"


def image_section(config: str | Path | None = None, data: str | Path | None = None,
                  size: str | None = None, overrides: list[str] | None = None,
                  **flags) -> ImageSection:
    """Resolve an ImageSection (module docstring); ``flags`` set fields, None values ignored."""
    table, where = _stored_table(config, data)
    if size is not None:
        if size not in SIZES:
            raise ConfigError(f"--size {size!r}: unknown model size; expected one of "
                              f"{', '.join(SIZES)}")
        table.update(SIZES[size])
    table = apply_overrides({"image": table}, list(overrides or []))["image"]
    sec = build(ImageSection, table, "image", "--set" if overrides else where)
    names = {f.name for f in fields(ImageSection)}
    unknown = set(flags) - names
    if unknown:
        raise TypeError(f"unknown ImageSection fields {sorted(unknown)}")
    sec = replace(sec, **{k: v for k, v in flags.items() if v is not None})
    sec = build(ImageSection, section_dict(sec), "image", "command line")  # re-check ranges
    return check_section(sec, where)


