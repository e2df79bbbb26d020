"""filmscore.provenance: the static import closure and the source digest built on it."""

from pathlib import Path

from filmscore import provenance


def _tree(root: Path) -> Path:
    pkg = root / "proj"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .leaf import VALUE\n")
    (pkg / "sub" / "leaf.py").write_text("VALUE = 1\n")
    (pkg / "sub" / "other.py").write_text("import json\nX = 2\n")
    (pkg / "top.py").write_text(
        "import numpy as np\n"
        "from . import helper\n"
        "def run():\n"
        "    from .sub import leaf  # lazy: still part of what run() computes with\n"
        "    return leaf.VALUE\n")
    (pkg / "helper.py").write_text("from .sub.other import X as _x\n")
    (pkg / "unused.py").write_text("Y = 3\n")
    return root


def test_closure_follows_relative_lazy_and_package_imports(tmp_path):
    root = _tree(tmp_path)
    got = provenance.import_closure("proj.top", packages=("proj",), roots=(root,))
    # hand-listed: top, its package, helper, sub/__init__ (runs when sub.other or sub.leaf
    # is imported), leaf (lazy import), other (imported by helper); never unused or numpy
    assert set(got) == {"proj", "proj.top", "proj.helper", "proj.sub", "proj.sub.leaf", "proj.sub.other"}
    assert got["proj.sub"] == root / "proj" / "sub" / "__init__.py"


def test_digest_changes_with_any_module_in_the_closure_and_only_those(tmp_path):
    root = _tree(tmp_path)
    kw = dict(packages=("proj",), roots=(root,))
    before = provenance.source_digest("proj.top", **kw)
    assert provenance.source_digest("proj.top", **kw) == before  # deterministic
    (root / "proj" / "unused.py").write_text("Y = 4\n")
    assert provenance.source_digest("proj.top", **kw) == before
    (root / "proj" / "sub" / "leaf.py").write_text("VALUE = 2\n")  # only reached lazily
    after = provenance.source_digest("proj.top", **kw)
    assert after != before


def test_project_stage_closure_is_real():
    files = provenance.closure_files("stages.cues")
    names = {p.relative_to(provenance.REPO_ROOT).as_posix() for p in files}
    assert "stages/cues.py" in names
    assert "src/filmscore/cues/stamp.py" in names
    assert not any("reports/" in n for n in names)
    assert provenance.library_versions(["numpy", "surely-not-installed-xyz"])["surely-not-installed-xyz"] == "?"
