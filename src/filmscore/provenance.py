"""What produced a result: the project modules a computation imports, and digests of them.

One definition serves both consumers of "the code behind a result":

- the persistent per-film caches (cues, features) key their entries on
  `source_digest` of the modules the computation runs, so editing any module
  it imports (directly, lazily inside a function, or through a package
  ``__init__``) makes a cache miss; no hand-bumped version constant is needed;
- the dvc.yaml consistency test compares each stage's code ``deps`` with
  `import_closure` of its ``stages/`` module.

The closure is computed statically from the source (``ast``), so it needs no
import and sees imports inside functions too (a superset of what one run
executes: safe for cache keys). Only modules of the named top-level packages
(``filmscore`` and ``stages``) are followed; third-party libraries enter cache
keys through `library_versions` instead. Modules loaded by a string at run time
(``importlib.import_module(name)``) are invisible to it. The project does that in
one place, the feature-set registry (`filmscore.features.sets`), so its users
add those modules explicitly: the feature cache keys hash
``FeatureSet.computation()`` and the dvc.yaml check adds ``sets.modules()`` to the
`features` stage's closure (`filmscore.dvcdeps`).
"""

from __future__ import annotations

import ast
import hashlib
from importlib import metadata
from pathlib import Path

#: The source roots searched for project modules: src/ (the library) and the repository root (stages/).
SRC_ROOT = Path(__file__).resolve().parent.parent
REPO_ROOT = SRC_ROOT.parent
ROOTS = (SRC_ROOT, REPO_ROOT)
PACKAGES = ("filmscore", "stages")


def module_file(name: str, roots: tuple[Path, ...] = ROOTS) -> Path | None:
    """The source file of a project module or package (``a/b.py`` or ``a/b/__init__.py``), or None."""
    rel = Path(*name.split("."))
    for root in roots:
        for cand in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
            if cand.is_file():
                return cand
    return None


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imported_names(path: Path, name: str) -> set[str]:
    """Absolute names of every module `path` (module `name`) imports, at any depth of its code."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if _is_package(path) else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(base_parts)
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            out.add(mod)
            # `from pkg import sub` may name a submodule
            out.update(f"{mod}.{a.name}" for a in node.names if a.name != "*")
    return out


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _closure(modules: tuple[str, ...], packages: tuple[str, ...], roots: tuple[Path, ...]) -> tuple[str, ...]:
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] not in packages:
            continue
        path = module_file(name, roots)
        if path is None:
            continue  # an attribute imported from a module (`from .x import f`), not a module
        seen[name] = path
        todo.extend(_parents(name))  # importing a.b.c runs a/__init__ and a/b/__init__
        todo.extend(_imported_names(path, name))
    return tuple(sorted(seen))


def import_closure(modules, packages: tuple[str, ...] = PACKAGES, roots: tuple[Path, ...] = ROOTS) -> dict[str, Path]:
    """{module name: source file} of `modules` and every project module they import, transitively."""
    if isinstance(modules, str):
        modules = (modules,)
    names = _closure(tuple(sorted(set(modules))), tuple(packages), tuple(roots))
    return {n: module_file(n, roots) for n in names}  # type: ignore[misc]


def closure_files(modules, packages: tuple[str, ...] = PACKAGES, roots: tuple[Path, ...] = ROOTS) -> list[Path]:
    """The source files of `import_closure`, sorted."""
    return sorted(import_closure(modules, packages, roots).values())


def source_digest(modules, packages: tuple[str, ...] = PACKAGES, roots: tuple[Path, ...] = ROOTS) -> str:
    """SHA-256 over the names and contents of every module in the import closure of `modules`."""
    h = hashlib.sha256()
    for name, path in sorted(import_closure(modules, packages, roots).items()):
        h.update(name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def library_versions(names) -> dict[str, str]:
    """Installed versions of third-party distributions ("?" when not installed)."""
    out = {}
    for lib in names:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "?"
    return out


__all__ = ["import_closure", "closure_files", "source_digest", "library_versions", "module_file", "ROOTS", "PACKAGES"]
