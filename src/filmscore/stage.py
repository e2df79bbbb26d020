"""What every DVC stage shares: logging, params, and errors printed for a user.

A stage module is thin::

    from filmscore.stage import run_stage

    def main(params):            # validated params.yaml, as a read-only view
        ...                      # call the library, write outputs atomically

    if __name__ == "__main__":
        run_stage(main)

`run_stage` validates params.yaml and hands `main` a `ParamsView` that shows only
the keys dvc.yaml lists under this stage's ``params:`` (plus runtime keys, which
never change a result): reading any other key is an error naming it, so a stage
cannot depend on a parameter DVC does not track. The stage is the one ``DVC_STAGE``
names (DVC sets it for every command), or, run by hand, every dvc.yaml stage whose
cmd runs this module. With ``FILMSCORE_PARAMS_TRACE=DIR`` the keys read are written
to ``DIR/<stage>.json`` (tests compare them with dvc.yaml).

When the environment names a run log (``FILMSCORE_RUNLOG=<file>``), every stage
appends one line to it as it starts (``<stage> <arguments>``): the stages' own
record of what ran, which the lab tests read to check that a pull recomputes nothing.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

from .config import PARAMS_FILE, leaf_specs, load_params
from .errors import FilmscoreError, Problem
from .log import setup_logging

log = logging.getLogger("filmscore.stage")
TRACE_ENV = "FILMSCORE_PARAMS_TRACE"
#: environment variable naming the run log (one line per stage run; unset: no log)
RUNLOG_ENV = "FILMSCORE_RUNLOG"


def _record_run(module: str) -> None:
    path = os.environ.get(RUNLOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:  # one short line: atomic enough for O_APPEND
            fh.write(" ".join([module.rpartition(".")[2], *sys.argv[1:]]) + "\n")


class UnlistedParam(FilmscoreError):
    """A stage read a params key that dvc.yaml does not list for it."""


class _Access:
    """What a view may show, and what was read through it (shared by a view and its sections)."""

    def __init__(self, stage: str, listed: Iterable[str], runtime: Iterable[str]):
        self.stage = stage
        self.listed = set(listed)
        self.runtime = set(runtime)
        self.read: set[str] = set()
        self.refused: list[str] = []

    def visible(self, key: str) -> bool:
        """A listed key, a key inside a listed section, a runtime key, or a section holding any of them."""
        if key in self.listed or key in self.runtime:
            return True
        if any(key.startswith(k + ".") for k in self.listed):
            return True
        return any(k.startswith(key + ".") for k in self.listed | self.runtime)

    def refuse(self, key: str) -> UnlistedParam:
        self.refused.append(key)
        return UnlistedParam(Problem(f"dvc.yaml: stage {self.stage}", f"reads params key {key}, which its params: do not list",
                                     f"add `- {key}` to the params of stage {self.stage} in dvc.yaml "
                                     "(python -m filmscore.dvcdeps checks them)"),
                             headline="a stage read a parameter DVC does not track")


class ParamsView(dict):
    """A read-only view of a params section showing only what `_Access` allows; records leaf reads.

    A dict (``isinstance(v, dict)``, ``json.dumps``, ``dict(v)`` work), whose items are only the
    visible keys; a hidden key read by ``[]``, ``get`` or ``in`` raises `UnlistedParam`. Copies
    (``copy.deepcopy``, pickling to a worker process) are plain dicts and count as reading every
    visible key.
    """

    def __init__(self, data: dict, access: _Access, prefix: str = ""):
        self._access, self._prefix = access, prefix
        self._hidden = {k for k in data if not access.visible(prefix + str(k))}
        super().__init__({k: v for k, v in data.items() if k not in self._hidden})

    def _key(self, k) -> str:
        return f"{self._prefix}{k}"

    def __getitem__(self, k):
        if k in self._hidden:
            raise self._access.refuse(self._key(k))
        v = dict.__getitem__(self, k)
        if isinstance(v, dict) and not isinstance(v, ParamsView):
            return ParamsView(v, self._access, self._key(k) + ".")
        self._access.read.add(self._key(k))
        return copy.deepcopy(v)

    def get(self, k, default=None):
        return self[k] if self.__contains__(k) else default

    def __contains__(self, k) -> bool:
        if k in self._hidden:
            raise self._access.refuse(self._key(k))
        return dict.__contains__(self, k)

    def __iter__(self):
        return iter(list(dict.keys(self)))

    def keys(self):
        return list(dict.keys(self))

    def items(self):
        return [(k, self[k]) for k in dict.keys(self)]

    def values(self):
        return [self[k] for k in dict.keys(self)]

    def plain(self) -> dict:
        """A plain-dict copy of the visible keys (reads them all)."""
        return {k: v.plain() if isinstance(v, ParamsView) else v for k, v in self.items()}

    def __deepcopy__(self, memo):
        return self.plain()

    def copy(self):
        return self.plain()

    def __reduce__(self):
        return (dict, (self.plain(),))

    def _read_only(self, *a, **kw):
        raise TypeError("params are read-only in a stage: copy what you change (dict(section))")

    __setitem__ = __delitem__ = setdefault = pop = popitem = clear = update = __ior__ = _read_only  # type: ignore[assignment]


def stage_view(params: dict, stage: str, listed: Iterable[str]) -> ParamsView:
    """`params` as stage `stage` may read them: its `listed` keys and every runtime key."""
    runtime = [k for k, s in leaf_specs().items() if s.runtime]
    return ParamsView(params, _Access(stage, listed, runtime))


def _this_stage(module: str) -> tuple[str, list[str]] | None:
    """(stage name, listed params) of the running stage from dvc.yaml, or None without a dvc.yaml."""
    from .dvcdeps import DVC_FILE, load_dvc, stage_params, stages_running

    if not Path(DVC_FILE).is_file():
        return None
    stages = load_dvc(DVC_FILE)
    name = os.environ.get("DVC_STAGE", "").rpartition(":")[2]  # dvc.yaml:stage when not in the root dvc.yaml
    if name and name.split("@", 1)[0] in stages:
        return name, stage_params(name, stages)
    names = stages_running(module, stages)
    if not names:
        raise FilmscoreError(Problem(DVC_FILE, f"has no stage whose cmd runs {module}",
                                     f"add one (cmd: python -m {module}) or run it from the repository root"))
    return "+".join(names), sorted({k for n in names for k in stage_params(n, stages)})


def run_stage(fn: Callable[[Any], None], sections: list[str] | None = None) -> None:
    """Run a stage's `fn(params)`: logging, validated params (a view limited to what dvc.yaml lists
    for the stage), and a user error (FilmscoreError) printed without a traceback, exit status 2.

    `sections` is not needed (dvc.yaml names what a stage reads; the whole params.yaml is
    validated) and ignored: it is accepted so stages written for the older signature run."""
    setup_logging(int(os.environ.get("FILMSCORE_VERBOSE", "0") or 0))
    module = fn.__module__
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        module = spec.name if spec is not None else module
    _record_run(module)
    try:
        params = load_params(PARAMS_FILE)
        this = _this_stage(module)
        if this is None:
            log.debug("no dvc.yaml here: %s reads params.yaml unrestricted", module)
            fn(params)
            return
        name, listed = this
        view = stage_view(params, name, listed)
        fn(view)
        if view._access.refused:  # read, refused, and the error caught somewhere in between
            raise view._access.refuse(view._access.refused[0])
        _trace(name, listed, view._access.read)
    except FilmscoreError as e:
        log.debug("stage failed", exc_info=True)
        print(f"stage {module.rpartition('.')[2]}: {e.render()}", file=sys.stderr)
        sys.exit(2)


def _trace(stage: str, listed: list[str], read: set[str]) -> None:
    folder = os.environ.get(TRACE_ENV)
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"{stage}.json").write_text(json.dumps({"stage": stage, "listed": sorted(listed), "read": sorted(read)},
                                                           indent=1) + "\n", encoding="utf-8")
