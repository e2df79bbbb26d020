"""What every DVC stage shares: logging, params, and errors printed for a user.

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


def run_stage(fn: Callable[[dict], None], sections: list[str] | None = None) -> None:
    setup_logging(int(os.environ.get("FILMSCORE_VERBOSE", "0") or 0))
    name = getattr(sys.modules.get(fn.__module__), "__file__", fn.__module__)
    try:
        params = load_params(sections=sections)
        fn(params)
    except FilmscoreError as e:
        logging.getLogger("filmscore.stage").debug("stage failed", exc_info=True)
        print(f"stage {os.path.basename(str(name))}: {e.render()}", file=sys.stderr)
        sys.exit(2)
