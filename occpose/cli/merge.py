"""``occpose-bench merge``: join shard directories into one benchmark.

Usage::

    occpose-bench merge runs/quick runs/shard0 runs/shard1 [--overwrite] [--copy]

Every shard must come from the same configuration (``config_sha256``) and backend. Complete
sequences (``entry.json`` present, arrays matching their sha256; interrupted shards count with
what they finished) are hard-linked into OUT (copied with ``--copy`` or across file systems),
with their rendered frames and masks. A sequence found in two places must be identical there
(same arrays sha256), else the merge is refused. The manifest is rewritten in plan order;
status ``complete`` when every planned sequence is present (exit 0), else ``incomplete`` (exit 1,
the missing ids listed). A merge of all shards equals one unsharded run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetError
from .common import add_doc_parser

STANDARD = ("format", "status", "name", "seed", "backend", "config", "config_sha256", "skeleton",
            "body_models", "visibility", "software", "sequences", "planned")  # fields BenchmarkWriter writes


def register(sub: argparse._SubParsersAction) -> None:
    p = add_doc_parser(sub, "merge", "join benchmark shards into one benchmark", __doc__)
    p.add_argument("out", metavar="OUT", help="merged benchmark directory (created or completed)")
    p.add_argument("shards", nargs="+", metavar="SHARD_DIR", help="shard directories")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a benchmark in OUT that was made from a different configuration")
    p.add_argument("--copy", action="store_true", help="copy files instead of hard-linking them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = merge(args.out, args.shards, overwrite=args.overwrite, copy=args.copy)
    manifest = result.manifest
    print(f"{args.out}: {len(manifest['sequences'])} of {len(result.planned)} sequences, status "
          f"{manifest['status']}")
    if result.missing:
        print(f"missing {len(result.missing)}: {', '.join(result.missing[:8])}"
              f"{', ...' if len(result.missing) > 8 else ''}")
        return 1
    return 0


@dataclass
class MergeResult:
    """The merged manifest and the planned sequence ids (``missing``: planned, not merged)."""

    manifest: dict
    planned: list[str]

    @property
    def missing(self) -> list[str]:
        have = {s["id"] for s in self.manifest["sequences"]}
        return [i for i in self.planned if i not in have]


def completed_entries(shard: Path, config_sha256: str | None = None) -> dict[str, dict]:
    """id -> entry of every complete sequence in a shard directory (arrays checked by sha256).

    An ``entry.json`` whose id is not its folder's name, whose arrays path leaves the shard, or
    (with ``config_sha256``) that was made from another configuration is refused, naming it.
    """
    from ..dataset.writer import read_entry

    out = {}
    for entry_file in sorted((shard / "sequences").glob("*/entry.json")):
        folder = entry_file.parent.name
        try:
            data = json.loads(entry_file.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            continue  # half-written by a crash: not complete
        if isinstance(data, dict) and data.get("id") != folder:
            raise DatasetError(f"{entry_file}: sequence id {data.get('id')!r} does not match its "
                               f"folder {folder!r}; refusing to merge this shard")
        if (isinstance(data, dict) and config_sha256 is not None
                and data.get("config_sha256") != config_sha256):
            raise DatasetError(f"{entry_file}: made from configuration "
                               f"{str(data.get('config_sha256'))[:12] or '(none)'}..., not the "
                               f"shard manifest's {config_sha256[:12]}...; refusing to mix")
        entry = read_entry(shard, entry_file, folder)
        if entry is not None:
            out[entry.id] = entry.to_dict()
    return out


def _check_links(shard: Path, folder: Path) -> None:
    """Refuse a sequence folder holding a symbolic link that leads outside its shard."""
    from ..dataset.paths import inside

    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                inside(shard, p.relative_to(shard).as_posix(), str(p), "link")


def _link_tree(src: Path, dst: Path, copy: bool) -> None:
    """Copy a sequence folder (hard links where possible) to a temporary name, then rename."""
    def link(a, b):
        if not copy:
            try:
                os.link(a, b)
                return b
            except OSError:
                pass
        return shutil.copy2(a, b)

    tmp = dst.with_name(f".{dst.name}.merge")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, copy_function=link, ignore=shutil.ignore_patterns(".*.tmp"))
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)


def merge(out, shards, overwrite: bool = False, copy: bool = False) -> MergeResult:
    """Merge shard directories into ``out`` (see the module docstring)."""
    from ..config import config_from_dict
    from ..dataset import BenchmarkWriter
    from ..dataset.manifest import MANIFEST, read_manifest

    shards = [Path(s) for s in shards]
    manifests = [read_manifest(s) for s in shards]
    first = manifests[0]
    for shard, m in zip(shards, manifests):
        for field in ("config_sha256", "backend"):
            if m.get(field) != first.get(field):
                raise DatasetError(f"{shard / MANIFEST}: {field} {m.get(field)!r} differs from "
                                   f"{shards[0] / MANIFEST}'s {first.get(field)!r}; shards must come "
                                   f"from one configuration and backend")
    where = str(shards[0] / MANIFEST)
    actions = tuple(first["config"].get("benchmark", {}).get("actions", ()))
    cfg = config_from_dict(first["config"], where, imported_actions=actions)
    if cfg.sha256() != first["config_sha256"]:
        raise DatasetError(f"{where}: its config does not reproduce its config_sha256 (made by "
                           f"another occpose version?)")
    extra = {k: v for k, v in first.items() if k not in STANDARD}  # cameras, renderer, ...
    writer = BenchmarkWriter(out, cfg, overwrite=overwrite, backend=first["backend"], extra=extra,
                             command="occpose-bench merge")
    with writer:
        return _merge_into(writer, out, shards, cfg, first, copy)


def _merge_into(writer, out, shards: list[Path], cfg, first: dict, copy: bool) -> MergeResult:
    from ..generate import plan

    source: dict[str, tuple[Path, str]] = {}
    for shard in shards:
        for seq_id, entry in completed_entries(shard, first["config_sha256"]).items():
            if seq_id in source:
                if source[seq_id][1] != entry["sha256"]:
                    raise DatasetError(f"sequence {seq_id} is in {source[seq_id][0]} and {shard} "
                                       f"with different arrays (sha256 {source[seq_id][1][:12]}... vs "
                                       f"{entry['sha256'][:12]}...); refusing to merge")
                continue
            source[seq_id] = (shard, entry["sha256"])
            have = writer.completed_entry(seq_id)
            if have is not None:
                if have.sha256 != entry["sha256"]:
                    raise DatasetError(f"sequence {seq_id} in {shard} differs from the one already "
                                       f"in {out}; refusing to merge")
                continue
            src = shard / "sequences" / seq_id
            _check_links(shard, src)
            _link_tree(src, writer.sequence_dir(seq_id), copy)
    subjects = cfg.render.subjects if first["backend"] == "blender" else None
    planned = [k.id for k in plan(cfg, subjects)]
    return MergeResult(writer.finalize(planned), planned)
