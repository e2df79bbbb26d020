"""The `filmscore` command.

Each subcommand lives beside the library code it drives: a module listed in
COMMANDS defines `register(subparsers)`, which adds its parser and sets
`func(args) -> int`. Input errors (FilmscoreError) print their problems and
exit with status 2; success exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import FilmscoreError
from .log import setup_logging

log = logging.getLogger("filmscore")

# Modules that add subcommands, in the order `--help` lists them.
COMMANDS = [
    "filmscore.corpus",
    "filmscore.demo",
    "filmscore.cues.cli",
    "filmscore.features.cli",
    "filmscore.lab",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="filmscore",
        description="How film music differs across film genres: cue matching, features, "
        "multiple-instance genre models and reports. The full pipeline runs with `dvc repro`; "
        "these subcommands run its parts on single inputs.",
    )
    parser.add_argument("--version", action="version", version=f"filmscore {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FilmscoreError as e:
        print(f"filmscore {args.command}: {e.render()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
