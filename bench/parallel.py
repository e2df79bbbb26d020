"""What map_films itself costs: start-up and per-film dispatch, in-process, local processes, Dask.

The per-film work here is nearly free (it writes a tiny per-film file atomically, as real
stages do), so the figures are the price of the machinery, to set against the seconds per
film the cue and feature stages spend (their own benches). Prints, for each way of running:
the start-up (pool or cluster connection, before the first result), the seconds per film
after that, and films per second.

    PYTHONPATH=src:. FILMSCORE_NO_PROGRESS=1 python bench/parallel.py [--films 400] [--jobs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from filmscore.files import write_text
from filmscore.parallel import map_films


def one_film(item):
    film_id, out = item
    write_text(out, film_id)
    return film_id


def measure(label: str, items, **where) -> None:
    t0 = time.perf_counter()
    first = None
    n = 0
    for _ in map_films(one_film, items, desc=label, **where):
        n += 1
        if first is None:
            first = time.perf_counter()
    t1 = time.perf_counter()
    assert n == len(items)
    per = (t1 - first) / max(1, n - 1)
    print(f"{label:<34} start-up {first - t0:6.2f} s   {per * 1000:7.2f} ms/film   {n / (t1 - t0):8.1f} films/s overall")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--films", type=int, default=400)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        def items(tag):
            return [(f"film{i:05d}", str(Path(d) / tag / f"film{i:05d}.txt")) for i in range(a.films)]

        print(f"{a.films} near-free films")
        measure("in-process (jobs=1)", items("inline"), jobs=1)
        measure(f"local processes (jobs={a.jobs})", items("local"), jobs=a.jobs)
        try:
            from distributed import LocalCluster
        except ImportError:
            print("dask distributed not installed: Dask figures skipped")
            return
        with LocalCluster(n_workers=a.jobs, threads_per_worker=1, processes=True, dashboard_address=None) as c:
            measure(f"Dask, {a.jobs} local workers x 1 thread", items("dask"), scheduler=c.scheduler_address)
            t0 = time.perf_counter()
            skipped = list(map_films(one_film, items("dask"), scheduler=c.scheduler_address,
                                     done=lambda it: Path(it[1]).exists()))
            print(f"{'re-run, every film done (skipped)':<34} {time.perf_counter() - t0:6.3f} s for {a.films} films "
                  f"({len(skipped)} recomputed)")


if __name__ == "__main__":
    main()
