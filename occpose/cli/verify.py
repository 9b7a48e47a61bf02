"""``occpose-bench verify``: check a generated benchmark against a standard's checksum list.

    occpose-bench generate --config scenes/standard.toml --out bench/standard
    occpose-bench verify bench/standard                    # the packaged list of its standard
    occpose-bench verify bench/mine --list my.test.sha256  # any list
    occpose-bench verify bench/mine --write-list my.test.sha256 --name mine-v1

Exit 0 when every file of the test split has the listed sha256; otherwise one line naming the
first differing file and exit 2. The lists of the published standards are in docs/standard.md.
"""

from __future__ import annotations

import argparse

from .common import add_doc_parser


def register(sub: argparse._SubParsersAction) -> None:
    p = add_doc_parser(sub, "verify", "check a benchmark's test split against a checksum list",
                       __doc__)
    p.add_argument("data", metavar="DIR", help="benchmark directory")
    p.add_argument("--list", metavar="FILE", help="checksum list (default: the packaged list of "
                                                   "the standard the benchmark was made from)")
    p.add_argument("--split", default="test", choices=("test", "train"), help="default test")
    p.add_argument("--write-list", metavar="FILE",
                   help="instead of checking, write the list of DIR's split to FILE")
    p.add_argument("--name", help="standard name written into --write-list's header")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..dataset import open_benchmark
    from ..dataset.atomic import atomic_write_text
    from ..errors import OccposeError
    from ..verify import format_list, read_list, standard_list_path, verify_benchmark

    if not Path(args.data).is_dir():
        raise OccposeError(f"{args.data}: not a benchmark directory")
    bench = open_benchmark(args.data, verify=False)
    name = args.name or str(bench.config.get("benchmark", {}).get("name", "benchmark"))
    if args.write_list:
        text = format_list(bench, name, args.split)
        atomic_write_text(args.write_list, text)
        print(f"{args.write_list}: {text.count(chr(10)) - 1} files of {args.data} ({args.split})")
        return 0
    path = Path(args.list) if args.list else standard_list_path(name, args.split)
    if not args.list and not path.is_file():
        raise OccposeError(f"{args.data}: no published checksum list for benchmark {name!r}; "
                           f"pass --list FILE")
    listing = read_list(path)
    mismatch, checked = verify_benchmark(bench, listing, args.split)
    if mismatch:
        raise OccposeError(f"{Path(args.data) / mismatch.path}: {mismatch.reason} ({path}; first "
                           f"differing file, {checked} checked before it)")
    print(f"{args.data}: all {checked} {args.split}-split files match {path}")
    return 0
