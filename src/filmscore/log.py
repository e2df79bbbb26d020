"""Logging and progress: one setup for the CLI and every stage."""

from __future__ import annotations

import logging
import os
import sys
from typing import Iterable, Iterator, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def setup_logging(verbose: int = 0) -> None:
    """Log to stderr at INFO (DEBUG with -v); quiet third-party chatter."""
    level = logging.DEBUG if verbose > 0 else logging.INFO
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("matplotlib", "PIL", "numba", "fsspec", "lightning", "pytorch_lightning", "lightning_fabric"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """A tqdm progress bar on stderr; silent when FILMSCORE_NO_PROGRESS is set."""
    disable = bool(os.environ.get("FILMSCORE_NO_PROGRESS"))
    return iter(tqdm(iterable, desc=desc, total=total, unit=unit, disable=disable, leave=False, file=sys.stderr))
