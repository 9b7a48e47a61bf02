"""The add-on's Render Benchmark from the panel (modal) vs called directly, in a Blender GUI.

Usage (from the repository root; a display is needed, Xvfb will do)::

    xvfb-run -a -s "-screen 0 1280x800x24" blender --factory-startup -P benchmark/bench_addon_modal.py -- \
        [--config tests/data/tiny_render.toml] [--frames N] [--repeats 2] [--out DIR]

Registers the add-on from this checkout, renders once untimed (the first render of a session
pays for kernel and cache set-up), then alternates, ``--repeats`` times each:

* direct: ``bpy.ops.occpose.render_benchmark('EXEC_DEFAULT')``, what a Python call runs;
* modal: ``bpy.ops.occpose.render_benchmark('INVOKE_DEFAULT')`` in the 3D View, what the panel
  button runs: the operator advances on window-manager timer events while Blender keeps
  handling events and redrawing between them.

Each run renders the whole preset into a fresh folder. Prints both times (best of the repeats),
their ratio modal / direct, and whether each modal run's output is byte-identical to the direct
run before it; exits 1 when they differ or a run fails. The modal time is measured from the invoke call to the
panel's status line saying "Rendered ...", polled every 0.02 s.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
import time
from pathlib import Path

import bpy

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import blender_addon  # noqa: E402


def parse_args() -> argparse.Namespace:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(prog="bench_addon_modal", description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(REPO / "tests" / "data" / "tiny_render.toml"))
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--frames", type=int, default=0, help="frames per sequence (0: the preset's)")
    p.add_argument("--out", default=None, help="folder for the outputs (default: a temporary one)")
    return p.parse_args(argv)


def view3d_override():
    """Window, area and region of the first 3D View: the panel's context."""
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return {"window": window, "screen": window.screen, "area": area, "region": region}


def differing(a: Path, b: Path) -> list[str]:
    """Files that are not byte-identical in two folders (or in only one of them)."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    diff = files_a ^ files_b
    diff |= {f for f in files_a & files_b if not filecmp.cmp(a / f, b / f, shallow=False)}
    return sorted(str(f) for f in diff)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = Path(args.out or tempfile.mkdtemp(prefix="occpose-modal-"))
        self.plan = ["warmup"] + [kind for _ in range(args.repeats) for kind in ("direct", "modal")]
        self.times: dict[str, list[float]] = {"warmup": [], "direct": [], "modal": []}
        self.folders: list[Path] = []
        self.pending = None  # (kind, folder, t0) of the running modal render
        self.failed = ""

    def settings(self, folder: Path):
        s = bpy.context.scene.occpose
        s.preset = str(Path(self.args.config).resolve())
        s.output = str(folder)
        s.frames = self.args.frames
        return s

    def tick(self):
        """bpy.app.timers callback: start the next run or wait for the modal one."""
        if self.pending is not None:
            kind, folder, t0 = self.pending
            status = bpy.context.scene.occpose.status
            if status.startswith("Rendered") and str(folder) in status:
                self.times[kind].append(time.perf_counter() - t0)
                self.pending = None
            elif any(status.startswith(w) for w in ("Error", "Cancelled", "Failed")):
                self.failed = f"modal run: {status}"
                return self.done()
            else:
                return 0.02  # still running
        if not self.plan:
            return self.done()
        kind = self.plan.pop(0)
        folder = self.root / f"{kind}{len(self.folders)}"
        self.folders.append(folder)
        self.settings(folder)
        with bpy.context.temp_override(**view3d_override()):
            t0 = time.perf_counter()
            result = bpy.ops.occpose.render_benchmark("INVOKE_DEFAULT" if kind == "modal" else "EXEC_DEFAULT")
        if kind != "modal":
            if result != {"FINISHED"}:
                self.failed = f"direct run ended with {result}"
                return self.done()
            self.times[kind].append(time.perf_counter() - t0)
        elif result == {"FINISHED"}:  # the whole job fitted in invoke's first slice
            self.times[kind].append(time.perf_counter() - t0)
        elif result != {"RUNNING_MODAL"}:
            self.failed = f"invoke returned {result}"
            return self.done()
        else:
            self.pending = (kind, folder, t0)
        return 0.05

    def done(self):
        rc = 1
        if self.failed:
            print(f"bench_addon_modal: {self.failed}", flush=True)
        else:
            d, m = min(self.times["direct"]), min(self.times["modal"])
            print(f"Blender {bpy.app.version_string}, {Path(self.args.config).name}, best of "
                  f"{self.args.repeats}", flush=True)
            print(f"direct: {d:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in self.times['direct'])})")
            print(f"modal:  {m:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in self.times['modal'])})")
            pairs = sorted(b / a for a, b in zip(self.times["direct"], self.times["modal"]))
            print(f"modal / direct: {m / d:.3f} (best of each), median of the pairs {pairs[len(pairs) // 2]:.3f}, "
                  f"pairs: {', '.join(f'{r:.3f}' for r in pairs)}")
            identical = True
            for i in range(1, len(self.folders) - 1, 2):  # each modal run against the direct run before it
                direct, modal = self.folders[i], self.folders[i + 1]
                diff = differing(direct, modal)
                identical &= not diff
                print(f"{modal.name} vs {direct.name}: "
                      + ("byte-identical" if not diff else f"{len(diff)} files differ, e.g. {diff[:3]}"))
            others = [f.name for f in self.folders[1:] if differing(self.folders[0], f)]
            print(f"untimed first run {self.folders[0].name} ({self.times['warmup'][0]:.2f} s): "
                  + (f"differs from {', '.join(others)}" if others else "identical to all others"))
            rc = 0 if identical else 1
        bpy.app.timers.register(lambda: self.quit(rc), first_interval=0.1)
        return None

    @staticmethod
    def quit(rc: int):
        sys.stdout.flush()
        import os

        os._exit(rc)  # wm.quit_blender would ask to save the changed file


def main() -> None:
    args = parse_args()
    if bpy.app.background:
        print("bench_addon_modal: needs the Blender GUI (run under xvfb-run without -b)", file=sys.stderr)
        sys.exit(2)
    blender_addon.register()
    bench = Bench(args)
    bpy.app.timers.register(bench.tick, first_interval=2.0)


main()
