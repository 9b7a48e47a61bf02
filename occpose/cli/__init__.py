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
            "evaluate", "image", "run", "inputs", "score", "verify", "calibrate")


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
    except OSError as e:  # read-only folder, disk full, a file where a folder should be, ...
        print(f"occpose-bench {args.command}: error: {os_error_line(e)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"occpose-bench {args.command}: error: out of memory; make the run smaller (fewer "
              f"frames, channels, pixels or workers)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"occpose-bench {args.command}: interrupted; rerun the same command to resume",
              file=sys.stderr)
        return 130
    return int(result or 0)


def os_error_line(e: OSError) -> str:
    """One line naming the path(s) and the cause of a file-system error."""
    import errno
    import os

    cause = e.strerror or type(e).__name__
    hint = {errno.ENOSPC: "; free some space and rerun the same command (it resumes)",
            errno.EDQUOT: "; free some space and rerun the same command (it resumes)",
            errno.EROFS: "; choose a writable --out",
            errno.EACCES: "; check the folder's permissions or choose another --out",
            errno.EEXIST: " (a file is in the way where a folder is expected)",
            errno.ENOTDIR: " (a file is in the way where a folder is expected)",
            errno.EISDIR: " (a folder is in the way where a file is expected)"}.get(e.errno, "")
    paths = [p for p in (e.filename, e.filename2) if p is not None]
    where = " -> ".join(os.fsdecode(p) for p in paths)
    return f"{where}: {cause}{hint}" if where else f"{cause}{hint}"


if __name__ == "__main__":
    sys.exit(main())
