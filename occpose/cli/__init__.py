"""The ``occpose-bench`` command.

Each subcommand lives in its own module with ``register(subparsers)``; the module is imported
only when listed here, and heavy libraries are imported inside the command functions. User
mistakes (:class:`~occpose.errors.OccposeError`) print one line and exit with status 2 (3 for an
unreachable occlusion level); no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import OccposeError

COMMANDS = ("generate", "labels", "show", "sheet", "export", "convert", "merge", "train",
            "evaluate", "image", "run", "inputs", "score", "verify")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="occpose-bench",
        description="Synthetic occlusion benchmark for 3D human pose estimation.")
    parser.add_argument("--version", action="version", version=f"occpose {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except OccposeError as e:
        print(f"occpose-bench {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"occpose-bench {args.command}: interrupted; rerun the same command to resume",
              file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
