"""What every DVC stage shares: logging, params, and errors printed for a user.

When the environment names a run log (``FILMSCORE_RUNLOG=<file>``), every stage
appends one line to it as it starts (``<stage> <arguments>``): the stages' own
record of what ran, which the lab tests read to check that a pull recomputes nothing.

A stage module is thin::

    from filmscore.stage import run_stage

    def main(params):            # validated params.yaml
        ...                      # call the library, write outputs atomically

    if __name__ == "__main__":
        run_stage(main, sections=["corpus", "cues"])
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from .config import load_params
from .errors import FilmscoreError
from .log import setup_logging


#: environment variable naming the run log (one line per stage run; unset: no log)
RUNLOG_ENV = "FILMSCORE_RUNLOG"


def _record_run(name: str) -> None:
    path = os.environ.get(RUNLOG_ENV)
    if path:
        stage = os.path.splitext(os.path.basename(name))[0]
        with open(path, "a", encoding="utf-8") as fh:  # one short line: atomic enough for O_APPEND
            fh.write(" ".join([stage, *sys.argv[1:]]) + "\n")


def run_stage(fn: Callable[[dict], None], sections: list[str] | None = None) -> None:
    setup_logging(int(os.environ.get("FILMSCORE_VERBOSE", "0") or 0))
    name = getattr(sys.modules.get(fn.__module__), "__file__", fn.__module__)
    _record_run(str(name))
    try:
        params = load_params(sections=sections)
        fn(params)
    except FilmscoreError as e:
        logging.getLogger("filmscore.stage").debug("stage failed", exc_info=True)
        print(f"stage {os.path.basename(str(name))}: {e.render()}", file=sys.stderr)
        sys.exit(2)
