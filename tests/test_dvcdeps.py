"""dvc.yaml's dependencies against the code (filmscore.dvcdeps) and the params view of a stage.

- the shipped dvc.yaml lists, for every stage, exactly its import closure as code deps and
  single non-runtime params keys; removing any of them is reported;
- a stage reading a key its dvc.yaml entry does not list fails, naming the key;
- a parameter no stage lists is an error when params.yaml is loaded.
"""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from filmscore import dvcdeps
from filmscore.config import defaults, leaf_specs
from filmscore.stage import UnlistedParam, stage_view

ROOT = Path(__file__).resolve().parents[1]


def shipped() -> dict:
    return dvcdeps.load_dvc(ROOT / "dvc.yaml")


def test_shipped_dvc_yaml_matches_the_code():
    probs = dvcdeps.check(shipped())
    assert probs == [], "\n".join(map(str, probs)) + "\n(fix: python -m filmscore.dvcdeps)"


def test_code_deps_are_the_import_closure():
    stages = shipped()
    # hand-checked members of two closures: the cue matcher's settings (through stages.cues ->
    # filmscore.cues.stamp) and the MIL pooling layers (through filmscore.mil.grid)
    assert "src/filmscore/cues/settings.py" in dvcdeps.code_deps(stages["cues"])
    assert "src/filmscore/mil/pools.py" in dvcdeps.code_deps(stages["train"])
    # the stage validate imports no cue matcher, the scoring stage no feature extractor
    assert not any(d.startswith("src/filmscore/cues/") for d in dvcdeps.code_deps(stages["validate"]))
    assert not any(d.startswith(("src/filmscore/features/mir", "src/filmscore/features/vggish/"))
                   for d in dvcdeps.code_deps(stages["cues_eval"]))
    # the features stage loads the registry's extractors by name: their modules are its deps too
    assert {"src/filmscore/features/mir.py", "src/filmscore/features/vggish/network.py"} <= set(
        dvcdeps.code_deps(stages["features"]))
    # every stage's own module and files.py (which rounds every table DVC hashes) are deps
    for name, st in stages.items():
        deps = dvcdeps.code_deps(st)
        assert dvcdeps.stage_module(st).replace(".", "/") + ".py" in deps, name
        assert "src/filmscore/files.py" in deps, name


def test_removing_a_code_dep_is_reported():
    stages = copy.deepcopy(shipped())
    stages["features"]["deps"].remove("src/filmscore/features/mir.py")
    probs = dvcdeps.check(stages)
    assert len(probs) == 1
    assert probs[0].where == "dvc.yaml: stage features" and "src/filmscore/features/mir.py" in probs[0].what


def test_an_extra_or_folder_dep_is_reported():
    stages = copy.deepcopy(shipped())
    stages["validate"]["deps"].append("src/filmscore/cues/stamp.py")
    stages["importance"]["deps"].append("src/filmscore/mil")
    text = "\n".join(map(str, dvcdeps.check(stages)))
    assert "src/filmscore/cues/stamp.py, which stages.validate does not import" in text
    assert "lists the folder src/filmscore/mil" in text


def test_params_are_single_non_runtime_keys():
    stages = copy.deepcopy(shipped())
    stages["cues"]["params"].append("cues.jobs")  # runtime: must re-run nothing
    stages["evaluate"]["params"].append("cv")  # a whole section
    stages["report"]["params"].append({"params.yaml": None})  # the whole file
    stages["train"]["params"].append("train.lrr")  # not a parameter
    text = "\n".join(map(str, dvcdeps.check(stages)))
    assert "runtime key cues.jobs" in text
    assert "whole section cv" in text and "cv.folds, cv.seed" in text
    assert "depends on all of params.yaml" in text
    assert "train.lrr, which is not a parameter" in text


def test_no_runtime_key_is_listed_and_every_other_key_is():
    listed = {k for st in shipped().values() for k in dvcdeps.listed_params(st)}
    specs = leaf_specs()
    assert {k for k, s in specs.items() if s.runtime} & listed == set()
    assert {k for k, s in specs.items() if not s.runtime} <= listed
    # hand-picked: scoring-only and process-count keys do not re-run the matcher
    cues = set(dvcdeps.listed_params(shipped()["cues"]))
    assert "cues.eval.iou" not in cues and "cues.jobs" not in cues and "cues.bands.n_fft" in cues


def test_a_key_no_stage_lists_is_an_error_naming_it(tmp_path):
    stages = copy.deepcopy(shipped())
    stages["evaluate"]["params"].remove("evaluate.random_draws")
    assert dvcdeps.unread_keys(stages) == ["evaluate.random_draws"]
    probs = dvcdeps.check(stages)
    assert [p.where for p in probs] == ["params.yaml: evaluate.random_draws"] and "read by no stage" in probs[0].what
    # and for a params file next to such a dvc.yaml (config.unread_problems)
    from filmscore.config import unread_problems

    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    assert [p.where for p in unread_problems(defaults(), tmp_path / "dvc.yaml")] == ["params.yaml: evaluate.random_draws"]


# ---- the params view a stage reads through


def view(listed):
    return stage_view(defaults(), "toy", listed)


def test_view_shows_listed_and_runtime_keys_and_records_reads():
    v = view(["cv.folds", "train.lr"])
    assert v["cv"]["folds"] == 0 and v["train"]["lr"] == 5e-5
    assert v["train"]["jobs"] == 0  # runtime: visible, never a dependency
    assert set(v["cv"]) == {"folds"} and set(v["train"]) == {"lr", "jobs"}
    assert v._access.read == {"cv.folds", "train.lr", "train.jobs"}
    assert isinstance(v["run"], dict) and v["run"]["jobs"] == 2


def test_view_refuses_a_key_dvc_yaml_does_not_list():
    v = view(["cv.folds"])
    with pytest.raises(UnlistedParam) as e:
        v["cv"]["seed"]
    assert "cv.seed" in e.value.render() and "stage toy" in e.value.render()
    for read in (lambda: v["cv"].get("seed"), lambda: "seed" in v["cv"], lambda: v["evaluate"]):
        with pytest.raises(UnlistedParam):
            read()


def test_view_is_read_only_and_copies_are_plain_dicts():
    v = view(["train.attend_layers", "cv.folds"])
    with pytest.raises(TypeError, match="read-only"):
        v["cv"]["folds"] = 3
    layers = v["train"]["attend_layers"]
    layers.append(9)  # a copy: the view is unchanged
    assert v["train"]["attend_layers"] == [2, 3]
    for c in (copy.deepcopy(v["cv"]), pickle.loads(pickle.dumps(v["cv"])), dict(v["cv"])):
        assert type(c) is dict and c == {"folds": 0}
    assert json.loads(json.dumps(v["cv"])) == {"folds": 0}


def test_a_stage_reading_an_unlisted_key_fails_naming_it(tmp_path):
    """Removing a key a stage reads from its dvc.yaml params makes the stage fail (exit 2), naming it."""
    stage = tmp_path / "stages"
    stage.mkdir()
    (stage / "__init__.py").write_text("")
    (stage / "toy.py").write_text(
        "from filmscore.stage import run_stage\n\n"
        "def main(params):\n"
        "    print('folds', params['cv']['folds'], 'seed', params['cv']['seed'])\n\n"
        "if __name__ == '__main__':\n"
        "    run_stage(main)\n")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(defaults()))
    stages = shipped()
    stages["toy"] = {"cmd": "python -m stages.toy", "params": ["cv.folds", "cv.seed"]}
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{tmp_path}", "PATH": "/usr/bin:/bin", "FILMSCORE_NO_PROGRESS": "1"}

    def run(dvc_stages):
        (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": dvc_stages}))
        return subprocess.run([sys.executable, "-m", "stages.toy"], cwd=tmp_path, env=env, capture_output=True, text=True)

    ok = run(stages)
    assert ok.returncode == 0 and "folds 0 seed 0" in ok.stdout, ok.stderr
    stages["toy"]["params"] = ["cv.folds"]
    stages["train"]["params"] = [*stages["train"]["params"]]  # cv.seed stays listed elsewhere
    bad = run(stages)
    assert bad.returncode == 2 and "reads params key cv.seed" in bad.stderr and "stage toy" in bad.stderr
    assert "seed" not in bad.stdout
    # DVC names the running stage: a matrix item reads its stage's list
    ok = subprocess.run([sys.executable, "-m", "stages.toy"], cwd=tmp_path, capture_output=True, text=True,
                        env={**env, "DVC_STAGE": "train@mir-cue-avg-64"})
    assert ok.returncode == 0, ok.stderr


def test_dvcdeps_command_prints_lists_and_checks(tmp_path):
    r = subprocess.run([sys.executable, "-m", "filmscore.dvcdeps"], cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "cues:\n  deps (code):\n" in r.stdout and "    - cues.bands.n_fft" in r.stdout
    stages = shipped()
    stages["cues_eval"]["deps"].remove("stages/cues_eval.py")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    r = subprocess.run([sys.executable, "-m", "filmscore.dvcdeps", "--check", "--dvc", str(tmp_path / "dvc.yaml")],
                       cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 1 and "stages/cues_eval.py" in r.stderr and r.stdout == ""
