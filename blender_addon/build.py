"""Build the installable add-on zips (no network, no bpy needed).

Usage (from the repository root)::

    .venv/bin/python -m blender_addon.build --out dist/

writes

* ``dist/occpose-<version>-extension.zip`` for Blender 4.2+ (Edit > Preferences > Get
  Extensions > Install from Disk): the add-on modules at the top, ``blender_manifest.toml``,
  the presets, and ``wheels/occpose-<version>-py3-none-any.whl`` (occpose core, built here with
  ``pip wheel --no-deps --no-build-isolation`` from a staging copy that holds only the
  ``occpose`` package and declares no dependencies: Blender bundles numpy, the only one the core
  needs at import time);
* ``dist/occpose-<version>-legacy.zip`` for Blender 3.4 to 4.1 (Preferences > Add-ons >
  Install): the folder ``occpose_blender/`` with the modules, the presets and the occpose package
  vendored in ``_vendor/`` (legacy add-ons cannot install wheels; ``compat.py`` puts it on
  ``sys.path``). The folder is not called ``occpose`` so that it never shadows the package.

Zip members are sorted and carry a fixed timestamp, so the same sources give the same zips.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ADDON = Path(__file__).resolve().parent
REPO = ADDON.parent
LEGACY_NAME = "occpose_blender"
SKIP_MODULES = {"build.py"}
EPOCH = (1980, 1, 1, 0, 0, 0)


def version() -> str:
    text = (REPO / "occpose" / "__init__.py").read_text("utf-8")
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def addon_files() -> list[Path]:
    """The add-on's own files (modules, README), relative to the add-on folder."""
    files = [p for p in ADDON.glob("*.py") if p.name not in SKIP_MODULES]
    files += [ADDON / "README.md"] if (ADDON / "README.md").is_file() else []
    return sorted(p.relative_to(ADDON) for p in files)


def package_files(root: Path, package: str) -> list[Path]:
    """Python package files under ``root/package`` (no caches), relative to ``root``."""
    out = []
    for p in sorted((root / package).rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            out.append(p.relative_to(root))
    return out


def preset_files() -> list[Path]:
    return sorted(p.relative_to(REPO / "scenes") for p in (REPO / "scenes").rglob("*.toml"))


def build_wheel(work: Path) -> Path:
    """occpose-<version>-py3-none-any.whl built from a staging copy of the occpose package."""
    stage = work / "wheel-src"
    for rel in package_files(REPO, "occpose"):
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, stage / rel)
    (stage / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "occpose"\nversion = "{version()}"\nrequires-python = ">=3.10"\n'
        'description = "occpose core for the OccPose Blender add-on"\n'
        "dependencies = []  # numpy comes with Blender\n\n"
        '[tool.setuptools.packages.find]\ninclude = ["occpose*"]\n', "utf-8")
    wheels = work / "wheels"
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800", "PIP_NO_INDEX": "1"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(wheels), str(stage)], check=True, env=env)
    (wheel,) = wheels.glob("occpose-*.whl")
    return wheel


def write_zip(path: Path, members: list[tuple[str, Path]]) -> None:
    """Zip (archive name, source file) pairs, sorted, with fixed timestamps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, src in sorted(members):
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, src.read_bytes())
    os.replace(tmp, path)


def check_manifest(wheel: Path) -> None:
    text = (ADDON / "blender_manifest.toml").read_text("utf-8")
    if f'version = "{version()}"' not in text or f"./wheels/{wheel.name}" not in text:
        raise SystemExit(f"blender_manifest.toml must say version = \"{version()}\" and list "
                         f"./wheels/{wheel.name}; update it")


def build(out: Path) -> tuple[Path, Path]:
    """Build both zips into ``out``; returns (extension zip, legacy zip)."""
    with tempfile.TemporaryDirectory(prefix="occpose-addon-") as tmp:
        wheel = build_wheel(Path(tmp))
        check_manifest(wheel)
        common = [(str(rel), ADDON / rel) for rel in addon_files()]
        common += [(f"presets/{rel}", REPO / "scenes" / rel) for rel in preset_files()]
        ext = out / f"occpose-{version()}-extension.zip"
        write_zip(ext, common + [("blender_manifest.toml", ADDON / "blender_manifest.toml"),
                                 (f"wheels/{wheel.name}", wheel)])
    legacy = out / f"occpose-{version()}-legacy.zip"
    vendored = [(f"_vendor/{rel}", REPO / rel) for rel in package_files(REPO, "occpose")]
    write_zip(legacy, [(f"{LEGACY_NAME}/{name}", src) for name, src in common + vendored])
    return ext, legacy


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m blender_addon.build", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="dist", type=Path, help="output folder (default: dist/)")
    args = p.parse_args(argv)
    for path in build(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
