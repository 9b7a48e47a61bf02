"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse

from ..config import Config, load_config


def add_config_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--config", required=required, metavar="TOML",
                   help="preset file, e.g. scenes/quick.toml")
    p.add_argument("--seed", type=int, default=None, help="global seed (overrides benchmark.seed)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset value, e.g. --set benchmark.frames=100 (repeatable)")


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.overrides, args.seed)


def add_doc_parser(sub: argparse._SubParsersAction, name: str, help: str,
                   doc: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows its module docstring (reST markup dropped)."""
    return sub.add_parser(name, help=help, description=doc.replace("``", "").replace("::", ":"),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _int_at_least(lowest: int, word: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {word} integer, got {text!r}") from None
        if v < lowest:
            raise argparse.ArgumentTypeError(f"expected a {word} integer, got {v}")
        return v
    return parse


nonnegative_int = _int_at_least(0, "non-negative")
positive_int = _int_at_least(1, "positive")


def name_list(text: str) -> list[str]:
    """``"S1, S5,"`` -> ``["S1", "S5"]``: comma-separated names, blanks dropped."""
    return [v.strip() for v in text.split(",") if v.strip()]
