"""Each artifact path is declared once, in filmscore.paths, and dvc.yaml names the same ones."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from filmscore import paths
from filmscore.dvcdeps import CODE_ROOTS

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT = re.compile(r"^(data|reports)/[\w./-]*$")


def declared() -> dict[str, str]:
    return {name: Path(getattr(paths, name)).as_posix() for name in paths.__all__}


def dvc_paths() -> set[str]:
    """Every data path dvc.yaml names (deps, outs, metrics, plots), cut at the first template."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    out = set()
    for st in spec["stages"].values():
        for kind in ("deps", "outs", "metrics", "plots"):
            for item in st.get(kind, []) or []:
                p = next(iter(item)) if isinstance(item, dict) else str(item)
                if p.startswith(CODE_ROOTS) or p.startswith("${corpus.path}") or p == "models":
                    continue  # code, the user's corpus (a parameter), the weights folder (docs/weights.md)
                out.add(p.split("${", 1)[0].rstrip("/-"))
    return out


def under(p: str, root: str) -> bool:
    return p == root or p.startswith(root + "/")


def test_every_dvc_path_is_declared_in_paths():
    roots = set(declared().values())
    stray = sorted(p for p in dvc_paths() if not any(under(p, r) for r in roots))
    assert stray == [], f"dvc.yaml names paths filmscore.paths does not declare: {stray}"


def test_every_declared_path_is_in_dvc_yaml():
    named = dvc_paths()
    unused = sorted(n for n, r in declared().items() if not any(under(p, r) for p in named))
    assert unused == [], f"filmscore.paths declares paths no dvc.yaml stage reads or writes: {unused}"
    # hand-checked: the stages' exact artifacts
    assert {"data/manifest.parquet", "data/cues_truth", "data/cues/cues.parquet", "reports/report.md"} <= named


def test_no_other_module_spells_an_artifact_path():
    """Outside filmscore.paths no code writes a data/ or reports/ path as a string (docstrings and
    comments may mention them; a parameter's declared default, such as a cache folder, is the
    parameter's own one declaration)."""
    found = []
    for py in sorted([*(ROOT / "src" / "filmscore").rglob("*.py"), *(ROOT / "stages").glob("*.py")]):
        if py == ROOT / "src" / "filmscore" / "paths.py":
            continue
        tree = ast.parse(py.read_text(encoding="utf-8"))
        defaults = {id(k.value) for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords
                    if k.arg == "default"} if py.name == "config.py" else set()
        docs = defaults | {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs \
                    and ARTIFACT.match(node.value) and node.value.rstrip("/") not in ("data", "reports"):
                found.append(f"{py.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert found == []
