"""Stage `train` (a DVC matrix over params `grid`): cross-validate one grid cell.

    python -m stages.train SET LEVEL METHOD SIZE

METHOD is a pool (SIZE: hidden units) or a classical method (SIZE: base classifier);
writes data/models/<SET>-<LEVEL>-<METHOD>-<SIZE>/ (see filmscore.mil.grid).
"""

import sys

from filmscore import paths
from filmscore.errors import FilmscoreError, Problem
from filmscore.malloc import keep_freed_memory
from filmscore.mil.grid import run_cell
from filmscore.stage import run_stage

USAGE = "python -m stages.train SET LEVEL METHOD SIZE   (e.g. vggish cue avg 64, or mir cue simplemi svm)"


def main(params: dict, argv: list[str]) -> None:
    if len(argv) != 4:
        raise FilmscoreError(Problem("stages.train", f"got arguments {argv}", f"usage: {USAGE}"))
    keep_freed_memory()  # process-wide malloc setting for faster training steps: the entry point's to make
    run_cell(*argv, params=params, out_root=paths.MODELS, features_root=paths.FEATURES, manifest=paths.MANIFEST)


if __name__ == "__main__":
    run_stage(lambda params: main(params, sys.argv[1:]))
