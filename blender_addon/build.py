"""Build the installable add-on zip (no network, no bpy, no build tools needed).

Usage (from the repository root)::

    .venv/bin/python -m blender_addon.build --out dist/

writes ``dist/occpose-<version>-blender.zip``, one zip for every supported Blender:

* Blender 4.2+ installs it as an extension (Edit > Preferences > Get Extensions > Install from
  Disk): ``occpose_blender/blender_manifest.toml`` lists ``wheels/occpose-<version>-py3-none-any.whl``
  (the occpose core; Blender bundles numpy, the only package it needs at import time);
* Blender 3.4 to 4.1 install it as a legacy add-on (Preferences > Add-ons > Install): the folder
  ``occpose_blender/`` with ``bl_info``, and occpose vendored in ``_vendor/`` (legacy add-ons
  cannot install wheels; ``compat.py`` puts it on ``sys.path`` when no occpose is importable).

The folder is not called ``occpose`` so that it never shadows the package. The wheel is written
directly (a zip with ``*.dist-info``), not by setuptools, so the build needs nothing but this
Python. Zip members are sorted and carry a fixed timestamp: the same sources give the same zip.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
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


BUILT = {".pyc", ".so", ".pyd", ".dylib", ".o"}  # this machine's build products, not sources


def package_files(root: Path, package: str) -> list[Path]:
    """Source files of ``root/package`` (no caches, no compiled libraries such as the native
    ray kernels ``pip install`` may have built: the add-on is for every platform and labels
    with the numpy kernels, same bytes), relative to ``root``."""
    out = []
    for p in sorted((root / package).rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in BUILT:
            out.append(p.relative_to(root))
    return out


def preset_files() -> list[Path]:
    return sorted(p.relative_to(REPO / "scenes") for p in (REPO / "scenes").rglob("*.toml"))


def wheel_name() -> str:
    return f"occpose-{version()}-py3-none-any.whl"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest},{len(data)}"


def build_wheel(work: Path) -> Path:
    """occpose-<version>-py3-none-any.whl of the occpose package, declaring no dependencies
    (numpy comes with Blender), written as a zip by hand (PEP 427 layout)."""
    info = f"occpose-{version()}.dist-info"
    files = [(str(rel), (REPO / rel).read_bytes()) for rel in package_files(REPO, "occpose")]
    files += [(f"{info}/METADATA", (f"Metadata-Version: 2.1\nName: occpose\nVersion: {version()}\n"
                                    "Summary: occpose core for the OccPose Blender add-on\n"
                                    "Requires-Python: >=3.10\n").encode()),
              (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: blender_addon.build\n"
                                b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
              (f"{info}/top_level.txt", b"occpose\n")]
    record = "".join(f"{name},{_record_hash(data)}\n" for name, data in files) + f"{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode()))
    wheel = work / wheel_name()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:  # RECORD last, as installers expect
            entry = zipfile.ZipInfo(name, date_time=EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            zf.writestr(entry, data)
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


def build(out: Path) -> Path:
    """Build the add-on zip into ``out``; returns its path."""
    with tempfile.TemporaryDirectory(prefix="occpose-addon-") as tmp:
        wheel = build_wheel(Path(tmp))
        check_manifest(wheel)
        members = [(str(rel), ADDON / rel) for rel in addon_files()]
        members += [(f"presets/{rel}", REPO / "scenes" / rel) for rel in preset_files()]
        members += [("blender_manifest.toml", ADDON / "blender_manifest.toml"), (f"wheels/{wheel.name}", wheel)]
        members += [(f"_vendor/{rel}", REPO / rel) for rel in package_files(REPO, "occpose")]
        path = out / f"occpose-{version()}-blender.zip"
        write_zip(path, [(f"{LEGACY_NAME}/{name}", src) for name, src in members])
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m blender_addon.build", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="dist", type=Path, help="output folder (default: dist/)")
    args = p.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
