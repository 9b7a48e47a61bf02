"""Launch the Blender backend without importing bpy here (occpose core never imports bpy).

``occpose-bench generate --backend blender`` comes here. The renderer itself lives in the
top-level package ``blender_addon`` (``blender_addon.pipeline.main``); this module only decides
where it runs:

1. ``--blender PATH`` given: that Blender executable, in a subprocess;
2. else the ``bpy`` module importable (``pip install 'occpose[blender]'``): in this process;
3. else ``$OCCPOSE_BLENDER`` or ``blender`` on PATH, in a subprocess:
   ``blender -b --factory-startup --python-exit-code 1 -P <repo>/benchmark/render_bench.py -- ARGS``
   (from an installed wheel, without the repository's ``benchmark/``, an equivalent
   ``--python-expr`` bootstrap that appends occpose's folder to Blender's ``sys.path``).

The subprocess inherits stdout and stderr, so its progress streams live, and its exit status is
returned: 0 complete, 1 failed or incomplete, 2 a user mistake.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import OccposeError

ENV = "OCCPOSE_BLENDER"
ROOT = Path(__file__).resolve().parents[1]  # the folder holding occpose/ and blender_addon/
SCRIPT = ROOT / "benchmark" / "render_bench.py"


def has_bpy() -> bool:
    """Whether the bpy module can be imported (checked without importing it)."""
    return importlib.util.find_spec("bpy") is not None


def find_blender(path: str | None = None) -> str:
    """The Blender executable: ``path``, else ``$OCCPOSE_BLENDER``, else ``blender`` on PATH."""
    candidate = path or os.environ.get(ENV) or "blender"
    found = shutil.which(candidate)
    if found is None:
        if path:
            raise OccposeError(f"--blender {path}: not an executable file")
        raise OccposeError("the Blender backend needs Blender: install the bpy module "
                           "(pip install 'occpose[blender]'), put `blender` on PATH, or pass "
                           "--blender PATH")
    return found


def blender_command(blender: str, argv: list[str]) -> list[str]:
    """The command line that runs the renderer under a Blender executable."""
    head = [blender, "-b", "--factory-startup", "--python-exit-code", "1"]
    if SCRIPT.is_file():
        return [*head, "-P", str(SCRIPT), "--", *argv]
    return [*head, "--python-expr", _bootstrap("append"), "--", *argv]


def _bootstrap(how: str) -> str:
    """Python code that puts occpose's folder on ``sys.path`` (``append`` or ``prepend``) and runs
    the renderer on the arguments after ``--``."""
    add = f"sys.path.append({str(ROOT)!r})" if how == "append" else f"sys.path.insert(0, {str(ROOT)!r})"
    return (f"import sys; {add}; from blender_addon.pipeline import main; "
            f"sys.exit(main(sys.argv[sys.argv.index('--') + 1:]))")


def run(argv: list[str], blender: str | None = None) -> int:
    """Run the renderer with render_bench arguments (``--config TOML --out DIR ...``).

    Returns:
        the exit status (0 complete, 1 failed or incomplete, 2 user mistake).
    """
    if blender is None and has_bpy():
        return importlib.import_module("blender_addon.pipeline").main(argv)
    cmd = blender_command(find_blender(blender), argv)
    print("+ " + shlex.join(cmd), file=sys.stderr, flush=True)
    return subprocess.call(cmd)


def start(argv: list[str], log: Path, blender: str | None = None) -> subprocess.Popen:
    """Start the renderer in a child process that runs beside this one (``occpose-bench run``
    trains while it renders), its output going to ``log``.

    The same choice as :func:`run`: ``blender`` or, without it, the bpy module (in a child Python,
    this interpreter) or else a Blender executable on PATH. Returns the running process.
    """
    if blender is None and has_bpy():
        cmd = [sys.executable, "-c", _bootstrap("prepend"), "--", *argv]
    else:
        cmd = blender_command(find_blender(blender), argv)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as f:
        f.write("+ " + shlex.join(cmd) + "\n")
        f.flush()
        # the child holds its own copy of the file descriptor
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def arguments(args: argparse.Namespace) -> list[str]:
    """render_bench arguments from an ``occpose-bench generate`` namespace."""
    argv = ["--config", str(args.config), "--out", str(args.out)]
    argv += ["--seed", str(args.seed)] if getattr(args, "seed", None) is not None else []
    for text in getattr(args, "overrides", []) or []:
        argv += ["--set", text]
    argv += ["--shard", args.shard] if getattr(args, "shard", None) else []
    argv += ["--overwrite"] if getattr(args, "overwrite", False) else []
    argv += ["--engine", args.engine] if getattr(args, "engine", None) else []
    argv += ["--quiet"] if getattr(args, "quiet", False) else []
    argv += ["--force-size"] if getattr(args, "force_size", False) else []
    return argv
