"""Temporary git + DVC repositories for the lab-workflow tests (real git and dvc commands).

Every command runs with DVC_NO_ANALYTICS=1, the test's own virtualenv first on
PATH (so a stage's `python` is this interpreter) and this checkout's `src`
first on PYTHONPATH (so `python -m filmscore` and the stages import this code).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
VENV_BIN = Path(sys.executable).parent


def env(**extra: str) -> dict:
    e = dict(os.environ)
    e.update(
        DVC_NO_ANALYTICS="1",
        FILMSCORE_NO_PROGRESS="1",
        PATH=f"{VENV_BIN}{os.pathsep}{e.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join([str(SRC), "."]),
        GIT_TERMINAL_PROMPT="0",
    )
    e.pop("PYTHONHASHSEED", None)
    e.update(extra)
    return e


def run(cwd: Path, *cmd: str, check: bool = True, extra_env: dict | None = None, prefix: list[str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    res = subprocess.run([*(prefix or []), *cmd], cwd=cwd, env=env(**(extra_env or {})), capture_output=True,
                         text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} (in {cwd}) failed with {res.returncode}:\n{res.stdout}\n{res.stderr}")
    return res


def dvc(cwd: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return run(cwd, sys.executable, "-m", "dvc", *args, **kw)


def filmscore(cwd: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return run(cwd, sys.executable, "-m", "filmscore", *args, **kw)


def git(cwd: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return run(cwd, "git", *args, **kw)


def _identity(repo: Path) -> None:
    git(repo, "config", "user.name", "Lab Tester")
    git(repo, "config", "user.email", "tester@lab.invalid")


def init_repo(path: Path) -> Path:
    """git init + dvc init with analytics off, committed."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    _identity(path)
    dvc(path, "init", "-q")
    dvc(path, "config", "core.analytics", "false")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "dvc init")
    return path


def clone(src: Path, dst: Path) -> Path:
    git(dst.parent, "clone", "-q", str(src), str(dst))
    _identity(dst)
    return dst


def commit_all(repo: Path, msg: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", msg)


def write(repo: Path, rel: str, text: str) -> Path:
    p = repo / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip("\n"))
    return p


# A small deterministic pipeline: `gen` (a seeded sample and a folder of parts, run through
# filmscore.parallel on two processes) -> `stats` (metrics). Each stage appends its name to
# the file named by $RUNLOG when set, so a test sees whether anything was recomputed.
TOY_GEN = """
    import os, sys
    from pathlib import Path

    import numpy as np
    import yaml

    from filmscore.files import write_text
    from filmscore.parallel import map_films


    def part(item):
        name, seed, out = item
        rng = np.random.default_rng([seed, sum(map(ord, name))])
        write_text(out, "\\n".join(f"{v:.12f}" for v in rng.normal(size=50)) + "\\n")
        return name


    if __name__ == "__main__":
        p = yaml.safe_load(open("params.yaml"))
        if os.environ.get("RUNLOG"):
            open(os.environ["RUNLOG"], "a").write("gen\\n")
        rng = np.random.default_rng(p["seed"])
        Path("data").mkdir(exist_ok=True)
        np.savetxt("data/sample.txt", rng.normal(size=(200, 3)), fmt="%.12f")
        parts = Path("data/parts").resolve()
        items = [(n, p["seed"], str(parts / f"{n}.txt")) for n in ("alpha", "beta", "gamma", "delta")]
        for _ in map_films(part, items, jobs=2, desc="parts"):
            pass
"""
TOY_STATS = """
    import json, os
    from pathlib import Path

    import numpy as np

    if os.environ.get("RUNLOG"):
        open(os.environ["RUNLOG"], "a").write("stats\\n")
    x = np.loadtxt("data/sample.txt")
    parts = sorted(Path("data/parts").glob("*.txt"))
    y = np.concatenate([np.loadtxt(p) for p in parts])
    json.dump({"mean": round(float(x.mean()), 10), "std": round(float(x.std()), 10),
               "parts_mean": round(float(y.mean()), 10), "n_parts": len(parts)}, open("metrics.json", "w"), indent=1)
"""
TOY_DVC = """
    stages:
      gen:
        cmd: python gen.py
        deps: [gen.py]
        params: [seed]
        outs: [data/sample.txt, data/parts]
      stats:
        cmd: python stats.py
        deps: [stats.py, data/sample.txt, data/parts]
        metrics:
          - metrics.json:
              cache: false
"""


def toy_pipeline(repo: Path, seed: int = 7) -> Path:
    write(repo, "gen.py", TOY_GEN)
    write(repo, "stats.py", TOY_STATS)
    write(repo, "params.yaml", f"seed: {seed}\n")
    write(repo, "dvc.yaml", TOY_DVC)
    return repo


def tree_hashes(*roots: Path) -> dict[str, str]:
    """sha256 of every file under `roots` (following symlinks), keyed by path: what must not be lost."""
    out = {}
    for root in roots:
        if root.is_file():
            files = [root]
        elif root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.is_file())
        else:
            files = []
        for p in files:
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def up_to_date(repo: Path) -> bool:
    return "Data and pipelines are up to date" in dvc(repo, "status").stdout


def lock_hashes(repo: Path) -> dict[str, dict[str, str]]:
    """stage -> {path: md5} of its deps and outs, from dvc.lock: what `dvc repro` computed."""
    import yaml

    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    out = {}
    for stage, entry in lock["stages"].items():
        h = {}
        for kind in ("deps", "outs"):
            for item in entry.get(kind, []):
                h[f"{kind}:{item['path']}"] = item.get("md5")
        out[stage] = h
    return out


PROJECT_FILES = ("dvc.yaml", "params.yaml", "src", "stages", "models", ".dvcignore", ".gitignore")


def project_repo(dst: Path, params: dict | None = None) -> Path:
    """A fresh git + DVC repository holding this project's pipeline (its committed code files),
    with `params` (section -> {key: value}) merged into its params.yaml."""
    import shutil

    import yaml

    init_repo(dst)
    tracked = git(ROOT, "ls-files", "-z", *PROJECT_FILES).stdout.split("\0")
    for rel in filter(None, tracked):
        if (ROOT / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst / rel)
    if params:
        p = deep_merge(yaml.safe_load((dst / "params.yaml").read_text()), params)
        (dst / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    return dst


# The project's whole DAG at its smallest: three films of 30 s, one cell in each matrix stage,
# every stage run in-process (jobs 1). Shared by the reproducibility and the pull tests
# (`tests/conftest.py: tiny_demo`), which run it once per session.
TINY_DEMO_PARAMS = {
    "corpus": {"jobs": 1},
    "demo": {"n_films": 3, "film_seconds": 30, "min_tracks": 2, "max_tracks": 2, "track_seconds": [10, 20],
             "cues_per_film": [1, 2], "cue_seconds": [6, 12], "video_size": [32, 18], "video_fps": 4, "jobs": 1},
    "cues": {"jobs": 1},
    "features": {"sets": ["mir", "visual"], "jobs": 1},
    "grid": {"sets": ["mir"], "levels": ["cue"], "pools": ["avg"], "hidden": [64], "classical": ["simplemi"],
             "bases": ["knn"]},
    "train": {"schedule": "paper", "epochs": 3, "jobs": 1},
    "classical": {"jobs": 1},
    "evaluate": {"random_draws": 50},
    "reports": {"importance": {"n_repeats": 3}},
}


def deep_merge(base: dict, extra: dict) -> dict:
    """`base` with `extra` merged in, section by section (nested mappings merged, other values replaced)."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run_log(path: Path) -> list[str]:
    """The stages that ran, from the run log the stages write (filmscore.stage, FILMSCORE_RUNLOG)."""
    return [ln.split()[0] for ln in path.read_text().splitlines() if ln.strip()] if path.is_file() else []
