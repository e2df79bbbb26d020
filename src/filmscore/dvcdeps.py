"""dvc.yaml's dependencies, checked against the code (and printed for fixing them).

dvc.yaml is the one place that says which params keys each stage depends on; this
module reads it and holds it to two rules, so a change re-runs exactly what it
affects:

- **code**: a stage's code ``deps`` are exactly the files of the import closure of
  its ``stages/`` module (`filmscore.provenance.closure_files`, plus the modules it
  loads by name: the feature-set registry's extractors, `LOADERS`): every project
  module it can import, and nothing else (no whole folders);
- **params**: a stage lists params keys one by one (leaves of the schema in
  `filmscore.config`, never a section or the whole file), and never a runtime key
  (``Spec.runtime``: jobs, threads, device, batch size, scheduler, cache folder),
  which says how the work runs and not what it computes. Every other parameter is
  listed by some stage, or it is read by no stage: an error naming it
  (`unread_keys`; `filmscore.config.unread_problems` for a params file).

That a stage *reads* exactly the keys it lists is enforced when it runs:
`filmscore.stage.run_stage` hands it a read-only view of params.yaml showing only
its listed keys (and runtime keys); reading another is an error naming the key
and the stage, and the keys read can be recorded (``FILMSCORE_PARAMS_TRACE``) to
find listed keys that are never read (tests/test_dvcdeps.py).

    python -m filmscore.dvcdeps            # every problem, and each stage's expected deps and params
    python -m filmscore.dvcdeps --check    # problems only; exit status 1 when there are any
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem

DVC_FILE = "dvc.yaml"
PARAMS_FILE = "params.yaml"
#: folders whose files are code (the rest of a stage's deps are data)
CODE_ROOTS = ("src/", "stages/")
_MODULE = re.compile(r"\bpython3?\s+-m\s+(stages\.[A-Za-z_][\w.]*)")


def load_dvc(path: str | Path = DVC_FILE) -> dict:
    """The stages of a dvc.yaml (name -> definition)."""
    return (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("stages", {}) or {}


def stage_module(stage: dict) -> str | None:
    """The ``stages.<name>`` module a stage's ``cmd`` runs (``python -m stages.x ...``), or None."""
    cmd = stage.get("cmd", "")
    cmd = " ".join(cmd) if isinstance(cmd, list) else str(cmd)
    m = _MODULE.search(cmd)
    return m.group(1) if m else None


def _entry_path(item: Any) -> str:
    return next(iter(item)) if isinstance(item, dict) else str(item)


def code_deps(stage: dict) -> list[str]:
    """The deps of a stage that are code (under src/ or stages/)."""
    return [d for d in map(_entry_path, stage.get("deps", []) or []) if d.startswith(CODE_ROOTS)]


def listed_params(stage: dict) -> list[str]:
    """The params entries of a stage as written: keys of params.yaml; ``params.yaml`` itself when
    the whole file is a dependency; ``<file>:<key>`` for other params files."""
    out: list[str] = []
    for item in stage.get("params", []) or []:
        if isinstance(item, dict):
            for file, keys in item.items():
                if keys is None:
                    out.append(str(file))
                else:
                    out += [k if file == PARAMS_FILE else f"{file}:{k}" for k in keys]
        else:
            out.append(str(item))
    return out


def stage_params(name: str, stages: dict | None = None) -> list[str]:
    """The params keys stage `name` lists (a matrix stage's ``train@...`` is stage ``train``)."""
    stages = load_dvc() if stages is None else stages
    return listed_params(stages[name.split("@", 1)[0]])


def stages_running(module: str, stages: dict | None = None) -> list[str]:
    """The dvc.yaml stages whose cmd runs `module` (``stages.train`` runs ``train`` and ``classical``)."""
    stages = load_dvc() if stages is None else stages
    return [n for n, s in stages.items() if stage_module(s) == module]


#: modules that load other project modules by name, and what they load: the feature-set
#: registry's extractors (`FeatureSet.load`), built by the features stage's extract module
LOADERS = {"filmscore.features.extract": lambda: [s.module for s in _registry()]}


def _registry():
    from .features.sets import REGISTRY

    return REGISTRY


def expected_code_deps(module: str, root: Path | None = None) -> list[str]:
    """The import closure of a stage module, with the modules it loads by name (`LOADERS`), as paths
    relative to the repository root."""
    from .provenance import REPO_ROOT, closure_files, import_closure

    root = REPO_ROOT if root is None else root
    modules = [module] + [m for loader, named in LOADERS.items() if loader in import_closure(module) for m in named()]
    return [p.relative_to(root).as_posix() for p in closure_files(modules)]


def unread_keys(stages: dict, schema: dict | None = None) -> list[str]:
    """Parameters (non-runtime leaves of the schema) that no stage lists: nothing reads them."""
    from .config import leaf_specs

    listed = {k for s in stages.values() for k in listed_params(s)}
    if PARAMS_FILE in listed:
        return []

    def covered(key: str) -> bool:
        parts = key.split(".")
        return any(".".join(parts[:i]) in listed for i in range(1, len(parts) + 1))

    return [k for k, spec in leaf_specs(schema).items() if not spec.runtime and not covered(k)]


def check(stages: dict | None = None, schema: dict | None = None, root: Path | None = None) -> list[Problem]:
    """Every difference between dvc.yaml and the code: code deps both ways, params entries that are
    not single non-runtime parameters, and parameters no stage lists."""
    from .config import leaf_specs, section_spec

    stages = load_dvc() if stages is None else stages
    specs = leaf_specs(schema)
    probs: list[Problem] = []
    for name, st in stages.items():
        where = f"{DVC_FILE}: stage {name}"
        module = stage_module(st)
        if module is None:
            probs.append(Problem(where, f"cmd {st.get('cmd')!r} does not run a stages/ module",
                                 "run it as `python -m stages.<name>`"))
            continue
        listed, expected = code_deps(st), expected_code_deps(module, root)
        for d in sorted(set(expected) - set(listed)):
            probs.append(Problem(where, f"does not list {d}, which {module} imports", f"add `- {d}` to its deps"))
        for d in sorted(set(listed) - set(expected)):
            what = ("lists the folder " + d) if not d.endswith(".py") else f"lists {d}, which {module} does not import"
            probs.append(Problem(where, what, f"remove it from its deps (list each imported file instead)"
                                 if not d.endswith(".py") else "remove it from its deps"))
        for key in listed_params(st):
            if key == PARAMS_FILE or ":" in key:
                probs.append(Problem(where, f"depends on all of {key}", "list the keys it reads, one by one"))
                continue
            if key in specs:
                if specs[key].runtime:
                    probs.append(Problem(where, f"lists the runtime key {key} (how the work runs, not what it computes)",
                                         "remove it: changing it must re-run nothing"))
                continue
            try:
                node = section_spec(key, schema)
            except KeyError:
                probs.append(Problem(where, f"lists {key}, which is not a parameter", "fix the key or remove it"))
                continue
            leaves = [f"{key}.{k}" for k, s in leaf_specs(node).items() if not s.runtime]
            probs.append(Problem(where, f"lists the whole section {key}", "list its keys one by one: " + ", ".join(leaves)))
    for key in unread_keys(stages, schema):
        probs.append(Problem(f"{PARAMS_FILE}: {key}", "is read by no stage (dvc.yaml lists it under no stage's params)",
                             "list it under the params of the stage that reads it, or remove it from "
                             "params.yaml and filmscore.config"))
    return probs


def expected(stages: dict | None = None, schema: dict | None = None) -> dict[str, dict[str, list[str]]]:
    """Each stage's expected code deps and its params entries, with whole sections expanded to keys
    and runtime keys dropped: the lists to paste into dvc.yaml."""
    from .config import leaf_specs, section_spec

    stages = load_dvc() if stages is None else stages
    specs = leaf_specs(schema)
    out = {}
    for name, st in stages.items():
        module = stage_module(st)
        params: list[str] = []
        for key in listed_params(st):
            if key in specs:
                if not specs[key].runtime:
                    params.append(key)
                continue
            try:
                node = section_spec("" if key == PARAMS_FILE else key, schema)
            except KeyError:
                continue
            params += [f"{key}.{k}" if key != PARAMS_FILE else k for k, s in leaf_specs(node).items() if not s.runtime]
        out[name] = {"code": expected_code_deps(module) if module else [], "params": list(dict.fromkeys(params))}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m filmscore.dvcdeps", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dvc", default=DVC_FILE, help="the dvc.yaml to check (default: ./dvc.yaml)")
    ap.add_argument("--check", action="store_true", help="print problems only; exit 1 when there are any")
    args = ap.parse_args(argv)
    stages = load_dvc(args.dvc)
    probs = check(stages)
    if not args.check:
        for name, e in expected(stages).items():
            print(f"{name}:\n  deps (code):")
            print("\n".join(f"    - {d}" for d in e["code"]))
            print("  params:")
            print("\n".join(f"    - {k}" for k in e["params"]))
    if probs:
        print(f"\n{len(probs)} difference(s) between {args.dvc} and the code:", file=sys.stderr)
        for p in probs:
            print("  - " + str(p).replace("\n", "\n  "), file=sys.stderr)
        return 1
    print(f"{args.dvc} matches the code.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
