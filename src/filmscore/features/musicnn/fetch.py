"""The musicnn weights without TensorFlow: the PyPI wheel -> models/musicnn/<model>.npz.

`fetch_musicnn` (the command `filmscore weights fetch-musicnn`, run by
`make demo`):

1. `pip download --no-deps musicnn==0.1.0` into a temporary folder (nothing is
   installed; the package itself pins numpy < 1.17 and TensorFlow 1.x), or
   take a wheel the user downloaded (`--wheel`);
2. check the wheel's sha256 against `params.WHEEL_SHA256`;
3. read each model's TensorFlow checkpoint (`musicnn/<model>/.index` and
   `.data-00000-of-00001` inside the wheel) with filmscore's numpy reader
   (`filmscore.features.tfcheckpoint`: block and tensor checksums verified);
4. keep the variables the network uses (the optimiser's Adam slots are
   dropped), check their names and shapes against the network, and write
   them under their TF names to `<dest>/<model>.npz`, with `wheel_sha256`
   saying where they came from; each file is read back through the loader
   before it takes its name.

Cached: a model whose .npz already holds the wheel's digest is not written
again, so a second run does nothing and does not download.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ...errors import FilmscoreError, Problem
from ...files import atomic_path, file_hash
from ..tfcheckpoint import read_checkpoint
from ..weights import WeightsCorrupt, load_npz_file
from . import params as P
from .model import weights_file
from .network import check_variables, load_network, tf_variables

log = logging.getLogger(__name__)

SOURCE_KEY = "wheel_sha256"


def manual_steps(dest: str | Path) -> str:
    return (f"download it where PyPI is reachable (`{P.PIP_DOWNLOAD} -d DIR`), copy {P.WHEEL_NAME} here, "
            f"and run `{P.FETCH_COMMAND} --wheel PATH/{P.WHEEL_NAME}` (writes {dest}/<model>.npz); "
            "until then the musicnn feature set is skipped and the other sets run")


def download_wheel(folder: Path) -> Path:
    """`pip download --no-deps musicnn==0.1.0 -d folder` with this interpreter's pip; FilmscoreError if it fails."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--retries", "2", "--timeout", "30",  # offline: say so within a minute or two
           f"musicnn=={P.WHEEL_VERSION}", "-d", str(folder)]
    log.info("downloading %s from PyPI (%.0f MB, not installed)", P.WHEEL_NAME, P.WHEEL_BYTES / 1e6)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FilmscoreError([Problem(f"pip download musicnn=={P.WHEEL_VERSION}", f"could not run ({e})",
                                      manual_steps(P.WEIGHTS_DIR))], headline="musicnn weights not fetched") from None
    wheel = folder / P.WHEEL_NAME
    if proc.returncode != 0 or not wheel.is_file():
        last = [ln for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()][-1:] or ["no output"]
        raise FilmscoreError([Problem(f"pip download musicnn=={P.WHEEL_VERSION}",
                                      f"failed (exit status {proc.returncode}: {last[0].strip()[:200]})",
                                      manual_steps(P.WEIGHTS_DIR))], headline="musicnn weights not fetched")
    return wheel


def check_wheel(wheel: Path) -> None:
    digest = file_hash(wheel)
    if digest != P.WHEEL_SHA256:
        raise WeightsCorrupt(wheel, f"has sha256 {digest}, not that of {P.WHEEL_NAME} ({P.WHEEL_SHA256})",
                             f"download it again: {P.PIP_DOWNLOAD}")


def model_variables(wheel: Path, model: str, workdir: Path) -> dict[str, np.ndarray]:
    """The network variables of one model, read from the checkpoint inside the wheel."""
    folder = workdir / model
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as z:
            for part in (".index", ".data-00000-of-00001"):
                (folder / part).write_bytes(z.read(f"musicnn/{model}/{part}"))  # zipfile checks each member's CRC
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise WeightsCorrupt(wheel, f"does not hold a readable checkpoint of {model} ({type(e).__name__}: {e})") from None
    arch = P.MODELS[model]
    variables = read_checkpoint(f"{folder}/", names=list(tf_variables(arch)))
    check_variables(variables, arch, f"{wheel}!musicnn/{model}")
    return variables


def is_current(path: Path, model: str) -> bool:
    """Whether `path` is a usable .npz of `model` written from the recorded wheel."""
    if not path.is_file():
        return False
    try:
        arrays = load_npz_file(path)
        check_variables(arrays, P.MODELS[model], path)
    except WeightsCorrupt:
        return False
    return str(arrays.get(SOURCE_KEY, "")) == P.WHEEL_SHA256


def write_model(path: Path, model: str, variables: dict[str, np.ndarray]) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **variables, **{SOURCE_KEY: np.array(P.WHEEL_SHA256)})
        load_network(tmp, model)  # reads back through the safe loader before the file takes its name
    return path


def fetch_musicnn(dest: str | Path = P.WEIGHTS_DIR, wheel: str | Path | None = None, force: bool = False,
                  models=tuple(P.MODELS)) -> list[Path]:
    """Write `<dest>/<model>.npz` for each model from the musicnn wheel (downloaded unless `wheel` is given).

    Models already written from the same wheel are kept (unless `force`);
    when all are, nothing is downloaded. Returns the paths.
    """
    dest = Path(dest)
    paths = {m: weights_file(dest, m) for m in models}
    todo = [m for m in models if force or not is_current(paths[m], m)]
    if not todo:
        log.info("musicnn weights up to date in %s (%s)", dest, ", ".join(models))
        return list(paths.values())
    with tempfile.TemporaryDirectory(prefix="musicnn-") as tmp:
        tmp = Path(tmp)
        if wheel is None:
            wheel_path = download_wheel(tmp)
        else:
            wheel_path = Path(wheel).expanduser()
            if not wheel_path.is_file():
                raise FilmscoreError([Problem(str(wheel_path), "not found", manual_steps(dest))])
        check_wheel(wheel_path)
        for m in todo:
            write_model(paths[m], m, model_variables(wheel_path, m, tmp))
            log.info("wrote %s", paths[m])
    return list(paths.values())
