"""Reproducibility: two fresh clones that run `dvc repro` on their own get the same dvc.lock
hashes and the same metrics; a changed seed changes them (so the comparison can fail).

`check_two_clones` takes any committed pipeline (the toy one here); the project's own DAG on the
tiny demo is compared against the session's one run of it (`tiny_demo`, conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dvcrepo import clone, commit_all, dvc, git, init_repo, lock_hashes, toy_pipeline, up_to_date

from filmscore.features import sets as feature_sets

pytestmark = pytest.mark.slow


def check_two_clones(origin: Path, tmp_path: Path, targets: list[str] | None = None,
                     metrics: list[str] = ("metrics.json",), extra_env: dict | None = None) -> dict:
    """Clone `origin` twice, reproduce `targets` (all when None) in each, compare; return the lock hashes."""
    runs = []
    for name in ("a", "b"):
        c = clone(origin, tmp_path / f"clone-{name}")
        assert not (c / "dvc.lock").exists(), "the origin must not carry results: each clone computes its own"
        dvc(c, "repro", "-q", *(targets or []), extra_env=extra_env)
        runs.append((c, lock_hashes(c), {m: json.loads((c / m).read_text()) for m in metrics}))
    (a, lock_a, met_a), (b, lock_b, met_b) = runs
    assert lock_a == lock_b
    assert met_a == met_b
    return lock_a


def test_toy_pipeline_two_clones_same_hashes_and_metrics(tmp_path):
    origin = toy_pipeline(init_repo(tmp_path / "origin"), seed=3)
    commit_all(origin, "pipeline, no results")
    lock = check_two_clones(origin, tmp_path)
    assert set(lock) == {"gen", "stats"}
    assert all(v for h in lock.values() for v in h.values())  # every dep and out hashed

    # the comparison sees a change: another seed gives other hashes and metrics
    other = clone(origin, tmp_path / "clone-seed4")
    (other / "params.yaml").write_text("seed: 4\n")
    dvc(other, "repro", "-q")
    changed = lock_hashes(other)
    assert changed["gen"]["outs:data/sample.txt"] != lock["gen"]["outs:data/sample.txt"]
    assert changed["gen"]["outs:data/parts"] != lock["gen"]["outs:data/parts"]
    assert changed["gen"]["deps:gen.py"] == lock["gen"]["deps:gen.py"]
    assert json.loads((other / "metrics.json").read_text()) != json.loads((tmp_path / "clone-a" / "metrics.json").read_text())


# The project's whole DAG on the tiny demo (tests/dvcrepo.py: TINY_DEMO_PARAMS), run once per session by
# the `tiny_demo` fixture (conftest.py; the pull tests reuse it): one fresh clone of the pipeline-only
# commit reproduces it on its own and must get the same dvc.lock hashes and metrics.
DEMO_METRICS: list[str] = ["reports/cues/metrics.json", "reports/table4.json"]  # the rest: outs, hashed in dvc.lock


def test_project_dag_on_the_demo_a_fresh_clone_gets_the_same_hashes(tiny_demo, tmp_path):
    c = clone(tiny_demo.origin, tmp_path / "clone")
    # the pipeline alone, on the same branch name (the report prints the revision and branch it ran on)
    git(c, "checkout", "-q", "-B", "main", tiny_demo.pipeline_commit)
    assert not (c / "dvc.lock").exists()
    dvc(c, "repro", "-q", timeout=1500)
    lock = lock_hashes(c)
    assert lock == lock_hashes(tiny_demo.origin)
    assert "demo" in lock and "validate" in lock and any(s.startswith("train@") for s in lock)
    for m in DEMO_METRICS:
        assert json.loads((c / m).read_text()) == json.loads((tiny_demo.origin / m).read_text()), m


def test_dvc_yaml_params_are_what_the_stages_read_and_runtime_keys_rerun_nothing(tiny_demo):
    """On the tiny demo's real run: each stage read every params key its dvc.yaml entry lists (the
    union over a matrix's items; reading an unlisted key already failed the run), and editing jobs,
    threads, batch sizes or the device changes no stage's DVC status, while a result parameter
    changes exactly the stage that reads it."""
    listed: dict[str, set] = {}
    read: dict[str, set] = {}
    for f in tiny_demo.trace.glob("*.json"):
        t = json.loads(f.read_text())
        stage = t["stage"].split("@")[0]
        listed.setdefault(stage, set()).update(t["listed"])
        read.setdefault(stage, set()).update(t["read"])
    stages = yaml.safe_load((tiny_demo.origin / "dvc.yaml").read_text())["stages"]
    assert set(listed) == set(stages)
    # the tiny demo runs only some feature sets: the keys of the others are listed (a user may run
    # them) and read only when their set runs; every other listed key was read
    ran = set(yaml.safe_load((tiny_demo.origin / "params.yaml").read_text())["features"]["sets"])
    idle = {f"features.{n}." for n in set(feature_sets.NAMES) - ran}
    expected = {s: sorted(k for k in listed[s] if any(k.startswith(i) for i in idle)) for s in stages}
    assert expected["features"] and not any(v for s, v in expected.items() if s != "features")
    assert {s: sorted(listed[s] - read[s]) for s in stages} == expected

    repo = tiny_demo.origin
    shipped = (repo / "params.yaml").read_text()
    try:
        p = yaml.safe_load(shipped)
        for section in (p["corpus"], p["demo"], p["cues"], p["features"], p["run"], p["train"], p["classical"]):
            section["jobs"] = 1
        for net in ("vggish", "openl3", "musicnn"):
            p["features"][net].update(threads=3, batch_size=7, device="auto")
        (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
        assert up_to_date(repo), dvc(repo, "status").stdout
        p["cues"]["eval"]["iou"] = 0.3  # a result parameter: only the stage that reads it
        (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
        changed = dvc(repo, "status", "--json").stdout
        assert set(json.loads(changed)) == {"cues_eval"}, changed
    finally:
        (repo / "params.yaml").write_text(shipped)
