"""How long the default demo corpus takes to generate. Prints wall-clock and CPU seconds.

    PYTHONPATH=src python bench/demo_speed.py [--films N] [--seconds S] [-j JOBS] [--keep DIR]

Settings default to the demo section of ./params.yaml. CPU seconds count this
process, its worker processes and every ffmpeg they ran; on a shared machine
the wall clock grows with the load, CPU / jobs is what an idle machine takes.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--films", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("-j", "--jobs", type=int)
    ap.add_argument("--keep", help="write the corpus here instead of a temporary folder")
    args = ap.parse_args()
    os.environ.setdefault("FILMSCORE_NO_PROGRESS", "1")

    from filmscore.config import load_params
    from filmscore.demo import generate_demo

    params = load_params(sections=["corpus", "demo"])
    p = dict(params["demo"])
    if args.films:
        p["n_films"] = args.films
    if args.seconds:
        p["film_seconds"] = args.seconds
    jobs = args.jobs or p["jobs"]
    tmp = None if args.keep else tempfile.mkdtemp(prefix="demo-bench-")
    out = Path(args.keep or tmp) / ("" if args.keep else "demo")
    try:
        t0, c0 = time.perf_counter(), _cpu()
        generate_demo(out, p, params["corpus"]["genres"], jobs=jobs, force=bool(args.keep))
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"demo: {p['n_films']} films x {p['film_seconds']:.0f} s, jobs={jobs}, cores={os.cpu_count()}")
    print(f"wall {wall:.1f} s | CPU {cpu:.1f} s (CPU/jobs {cpu / jobs:.1f} s) | {cpu / p['n_films']:.2f} CPU s per film | "
          f"{size / 2**20:.0f} MiB | load average at the end {load:.1f}")


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
