"""The one way per-film work is mapped: local processes, or a Dask cluster.

Every stage that does the same work for each film (fingerprints and cue
matching, feature extraction) calls :func:`map_films`::

    from filmscore.parallel import map_films, run_options

    def one_film(item):                 # module level (it is pickled), pure
        film_id, film_path, out_path = item        # absolute paths
        table = ...                                 # the work
        write_table(table, out_path)                # atomic, per film
        return len(table)                           # small summary only

    cache = Path(params["cues"]["cache"]).absolute()     # keyed by content, persisted
    items = [(fid, str(corpus.films[fid].absolute()), str(cache / f"{fid}-{sha[fid]}.parquet"))
             for fid in corpus.film_ids]
    for item, n in map_films(one_film, items, desc="matching cues",
                             done=lambda it: Path(it[2]).exists(),
                             **run_options(params)):
        log.debug("%s: %d cues", item[0], n)
    # then read every per-film output (done before or now), in film order, and assemble

Paths in items are absolute (the work may run on another machine, in another
directory) and made with ``Path.absolute()``, not ``resolve()``: a corpus checked
out from a symlinked DVC cache must keep its file names (track names are stems).

Where it runs (params.yaml, section ``run``, which never changes results):

- ``run.scheduler: null`` and ``run.jobs: N``: N local worker processes
  (started with ``spawn``, so a stage that has imported torch or essentia is
  safe); ``jobs: 1`` runs in this process, one film after the other.
- ``run.scheduler: tcp://host:8786`` (or the path of a ``--scheduler-file``
  JSON): on that Dask distributed cluster through ``distributed.Client``. The
  workers must run the same filmscore and see the same files at the same
  paths (a shared drive); this is checked before any work is sent.

Resuming: each call of ``fn`` writes its own per-film output atomically
(``filmscore.files``), and ``done(item)`` says whether that output exists;
items already done are skipped. So when the run stops half-way (the scheduler
goes away, a worker is killed, the user presses Ctrl-C) the films finished so
far are kept, the error says how many, and running the same command again does
only the rest. The per-film outputs must live where DVC does not delete them
before re-running the stage: outside the stage's ``outs``, or in an ``outs``
entry marked ``persist: true`` (with ``cache: false`` when they need not be
pushed), and be keyed by content (film hash, params, code), so that an output
left by an earlier run is never stale.

Errors: a film whose ``fn`` raises :class:`FilmscoreError` (bad media, ...) is
reported with every other such film at the end, once all the others are done;
any other exception is a bug: the remaining work is cancelled and the
exception re-raised with the film named.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import sys
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from .errors import FilmscoreError, Problem
from .log import progress

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_WAIT_S = 60.0
_SCHEME = re.compile(r"^(tcp|tls|ucx|ws|wss|inproc)://\S+$")


class SchedulerLostError(FilmscoreError):
    """The Dask scheduler (or the local worker pool) went away in the middle of a run."""


def scheduler_problem(value: Any) -> Problem | None:
    """A problem when ``value`` is neither null, a scheduler address nor a scheduler file."""
    if value is None:
        return None
    if isinstance(value, str) and (_SCHEME.match(value) or value.endswith(".json")):
        return None
    return Problem("params.yaml: run.scheduler", f"is {value!r}, not a Dask scheduler address",
                   "use tcp://HOST:PORT (as printed by `dask scheduler`), the path of a "
                   "`dask scheduler --scheduler-file` JSON file, or null to run on this machine")


def run_options(params: dict, jobs: int | None = None) -> dict:
    """The keyword arguments of :func:`map_films` from params.yaml's ``run`` section.

    ``jobs`` overrides ``run.jobs`` (for a stage with its own, smaller, limit).
    """
    r = params["run"]
    return {"jobs": int(jobs if jobs is not None else r["jobs"]), "scheduler": r["scheduler"],
            "wait_s": float(r["wait_s"])}


def _label(item: Any) -> str:
    if isinstance(item, (tuple, list)) and item:
        item = item[0]
    text = str(item)
    return text if len(text) <= 60 else text[:57] + "..."


_INITIALIZED: set[str] = set()


def _call(fn: Callable[[T], R], item: T, initializer: Callable[[], None] | None = None) -> tuple[bool, Any]:
    """Run one item where the work runs; bad-input errors come back as plain Problems.

    (A FilmscoreError subclass with its own __init__ does not survive pickling
    back to the caller; its list of Problems does.) `initializer` runs once per
    process before its first item, in a local worker or a Dask worker alike.
    """
    if initializer is not None:
        key = repr(initializer)
        if key not in _INITIALIZED:
            initializer()
            _INITIALIZED.add(key)
    try:
        return True, fn(item)
    except FilmscoreError as e:
        return False, list(e.problems)


def _names(labels: list[str], most: int = 8) -> str:
    if not labels:
        return "none"
    shown = ", ".join(sorted(labels)[:most])
    return shown + (f" and {len(labels) - most} more" if len(labels) > most else "")


class _Run:
    """Book-keeping shared by the local and the Dask paths."""

    def __init__(self, n_total: int, n_skipped: int, desc: str):
        self.n_total, self.n_skipped, self.desc = n_total, n_skipped, desc
        self.finished: list[str] = []
        self.problems: list[Problem] = []
        self.failed: list[str] = []

    def record(self, label: str, ok: bool, value: Any) -> bool:
        if ok:
            self.finished.append(label)
            return True
        self.failed.append(label)
        self.problems.extend(value)
        return False

    def stopped(self, what: str, fix: str, cls=SchedulerLostError) -> FilmscoreError:
        done_now = len(self.finished)
        todo = self.n_total - self.n_skipped
        return cls([Problem(
            self.desc,
            f"{what} after {done_now} of the {todo} film(s) to do had finished "
            f"(finished: {_names(self.finished)}); their outputs are kept"
            + (f", as are the {self.n_skipped} done by an earlier run" if self.n_skipped else ""),
            f"{fix}, then run the same command again: it skips every film already done and does "
            f"only the remaining {todo - done_now}")], headline=f"{self.desc}: stopped half-way")

    def finish(self) -> None:
        if self.problems:
            ok = self.n_total - len(self.failed)
            raise FilmscoreError(
                self.problems,
                headline=f"{self.desc}: {len(self.failed)} of {self.n_total} film(s) failed "
                f"({_names(self.failed)}); the other {ok} are done and kept, and a re-run after "
                "the fix redoes only the failed ones")


def map_films(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    desc: str = "films",
    done: Callable[[T], bool] | None = None,
    wait_s: float = DEFAULT_WAIT_S,
    shared_paths: Sequence[str | Path] | None = None,
    label: Callable[[T], str] = _label,
    initializer: Callable[[], None] | None = None,
) -> Iterator[tuple[T, R]]:
    """Run ``fn(item)`` for every item not ``done``; yield ``(item, result)`` as each finishes.

    ``fn`` must be a module-level function (it is pickled to the workers) and
    ``item`` and the result small and picklable; put heavy outputs in per-film
    files written atomically by ``fn`` itself, with absolute paths in ``item``.
    Results come in completion order, not input order: sort when order matters.

    ``jobs``: local worker processes when ``scheduler`` is None (1: in this
    process). ``scheduler``: a Dask scheduler address (``tcp://host:8786``) or a
    scheduler-file path; ``jobs`` is then ignored (the cluster has its own).
    ``done(item)``: True when the item's output exists already (skipped).
    ``wait_s``: how long to wait for the scheduler and a first worker.
    ``shared_paths``: paths every Dask worker must see (default: the current
    directory, i.e. the repository). ``label(item)`` names an item in messages
    (default: the item, or its first element: the film id). ``initializer()``
    runs once in each worker process (local or Dask) before its first film,
    e.g. ``functools.partial(torch.set_num_threads, 1)``; not with ``jobs=1``.

    Raises :class:`SchedulerLostError` when the scheduler or a local worker
    process goes away (the finished films' outputs are kept; a re-run does only
    the rest), and :class:`FilmscoreError` listing every film whose ``fn``
    raised one, after all the others are done.
    """
    items = list(items)
    todo = [it for it in items if not (done is not None and done(it))]
    run = _Run(len(items), len(items) - len(todo), desc)
    if run.n_skipped:
        log.info("%s: %d of %d film(s) already done, kept; %d to do", desc, run.n_skipped, len(items), len(todo))
    if not todo:
        return
    problem = scheduler_problem(scheduler)
    if problem:
        raise FilmscoreError([problem])
    if scheduler:
        yield from _map_dask(fn, todo, scheduler, run, wait_s, shared_paths, label, initializer)
    elif jobs <= 1 or len(todo) == 1:
        yield from _map_inline(fn, todo, run, label)
    else:
        yield from _map_local(fn, todo, min(jobs, len(todo)), run, label, initializer)
    run.finish()


# ------------------------------------------------------------------ local


def _map_inline(fn, todo, run: _Run, label) -> Iterator:
    for item in progress(todo, desc=run.desc, total=len(todo), unit="film"):
        try:
            ok, value = _call(fn, item)
        except Exception as e:
            e.add_note(f"filmscore: while processing film {label(item)} ({run.desc})")
            raise
        if run.record(label(item), ok, value):
            yield item, value


def _map_local(fn, todo, jobs: int, run: _Run, label, initializer) -> Iterator:
    log.info("%s: %d film(s) on %d local processes", run.desc, len(todo), jobs)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    futures: dict[Future, Any] = {}
    clean = False
    try:
        futures = {pool.submit(_call, fn, item, initializer): item for item in todo}
        pending = set(futures)

        def completed() -> Iterator[Future]:
            nonlocal pending
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from finished

        for fut in progress(completed(), desc=run.desc, total=len(todo), unit="film"):
            item = futures[fut]
            try:
                ok, value = fut.result()
            except BrokenProcessPool:
                raise run.stopped(
                    "a local worker process died (killed by the system: often out of memory)",
                    "lower run.jobs (each worker holds one film in memory)") from None
            except Exception as e:
                e.add_note(f"filmscore: while processing film {label(item)} ({run.desc})")
                raise
            if run.record(label(item), ok, value):
                yield item, value
        clean = True
    finally:
        # On an error or Ctrl-C: drop what has not started; running films finish their own atomic write or none.
        pool.shutdown(wait=True, cancel_futures=not clean)


# ------------------------------------------------------------------ Dask


def code_hash() -> str:
    """sha256 of the filmscore package's source files: the same code gives the same results."""
    import hashlib

    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _worker_check(paths: list[str], code: str) -> str:
    """Run on each Dask worker: '' when it can do the work, else what is wrong."""
    wrong = []
    mine = code_hash()
    if mine != code:
        wrong.append(f"runs other filmscore code (source hash {mine}, this machine {code}: another checkout or version)")
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        wrong.append(f"cannot see {', '.join(missing)}")
    return "; ".join(wrong)


def _quiet_client_logs():
    """distributed logs full tracebacks while it tries to reconnect; we report the loss ourselves."""
    names = ("distributed.client", "distributed.comm", "distributed.core", "distributed.utils",
             "distributed.batched")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)
    return levels


def _map_dask(fn, todo, scheduler: str, run: _Run, wait_s: float, shared_paths, label, initializer) -> Iterator:
    try:
        from distributed import Client, as_completed
        from distributed.client import FutureCancelledError
    except ImportError:
        raise FilmscoreError([Problem("params.yaml: run.scheduler", f"is {scheduler!r} but Dask distributed is not installed",
                                      "pip install -c constraints.txt -r requirements.txt (or set run.scheduler: null)")]) from None
    where = "params.yaml: run.scheduler"
    try:
        if scheduler.endswith(".json"):
            if not Path(scheduler).is_file():
                raise FilmscoreError([Problem(where, f"scheduler file {scheduler} not found",
                                              "start the scheduler with `dask scheduler --scheduler-file PATH` on a shared drive, "
                                              "or give its tcp:// address")])
            client = Client(scheduler_file=scheduler, timeout=wait_s, set_as_default=False)
        else:
            client = Client(scheduler, timeout=wait_s, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise FilmscoreError([Problem(where, f"cannot reach the Dask scheduler at {scheduler} within {wait_s:.0f} s ({e})",
                                      f"start it (`dask scheduler`, then `dask worker {scheduler}` on each machine), "
                                      "check the address and firewall, or set run.scheduler: null to run on this machine")]) from None
    levels: dict[str, int] = {}
    futures = []
    try:
        try:
            client.wait_for_workers(1, timeout=wait_s)
        except TimeoutError:
            raise FilmscoreError([Problem(where, f"the scheduler at {scheduler} has no worker (waited {wait_s:.0f} s)",
                                          f"start workers with `dask worker {scheduler} --nthreads 1 --nworkers N`, "
                                          "or raise run.wait_s for a cluster that starts workers slowly")]) from None
        paths = [str(Path(p).resolve()) for p in (shared_paths if shared_paths is not None else [os.getcwd()])]
        try:
            checks = client.run(_worker_check, paths, code_hash())
        except ImportError as e:
            raise FilmscoreError([Problem(where, f"the Dask workers cannot import filmscore ({e})",
                                          "install the project on the workers (`pip install -e .` in the same checkout)")]) from None
        bad = [Problem(f"Dask worker {w}", msg, "run workers from the same filmscore checkout, on machines that mount "
                       "the repository and corpus at the same paths as this one")
               for w, msg in sorted(checks.items()) if msg]
        if bad:
            raise FilmscoreError(bad, headline=f"{run.desc}: the cluster at {scheduler} cannot do this work")
        n_workers = len(checks)
        log.info("%s: %d film(s) on the Dask cluster %s (%d worker(s))", run.desc, len(todo), scheduler, n_workers)

        tag = uuid.uuid4().hex[:8]
        by_key: dict[str, Any] = {}
        for i, item in enumerate(todo):
            fut = client.submit(_call, fn, item, initializer, key=f"filmscore-{tag}-{i}", pure=False)
            futures.append(fut)
            by_key[fut.key] = item
        for fut in progress(as_completed(futures, loop=client.loop), desc=run.desc, total=len(todo), unit="film"):
            item = by_key[fut.key]
            try:
                ok, value = fut.result()
            except (FutureCancelledError, OSError) as e:
                if client.status != "running" or "connection" in str(e).lower():
                    levels = _quiet_client_logs()
                    raise run.stopped(f"the Dask scheduler {scheduler} went away ({type(e).__name__})",
                                      "restart the scheduler and its workers (or set run.scheduler: null)") from None
                raise
            except Exception as e:
                if type(e).__name__ == "KilledWorker":
                    ok, value = False, [Problem(label(item), "killed the Dask workers that processed it (out of memory?)",
                                                "give the workers more memory (`dask worker --memory-limit`), or fewer threads each")]
                else:
                    e.add_note(f"filmscore: while processing film {label(item)} ({run.desc}) on {scheduler}")
                    raise
            if run.record(label(item), ok, value):
                yield item, value
    finally:
        if futures and client.status == "running":
            try:
                client.cancel([f for f in futures if not f.done()])
            except Exception:  # the scheduler may already be gone
                pass
        levels = levels or _quiet_client_logs()
        try:
            client.close(timeout=5)
        except Exception:
            pass
        for n, lv in levels.items():
            logging.getLogger(n).setLevel(lv)


__all__ = ["map_films", "run_options", "scheduler_problem", "SchedulerLostError"]
