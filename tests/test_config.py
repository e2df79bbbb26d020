"""params.yaml validation: typos, types, ranges, and the project's own params."""

from pathlib import Path

import pytest
import yaml

from filmscore.config import load_params, validate
from filmscore.errors import ParamsError

ROOT = Path(__file__).resolve().parents[1]


def project_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_project_params_are_valid():
    assert validate(project_params()) == []


def test_typo_names_key_and_nearest_valid_key():
    p = project_params()
    p["corpus"]["generes"] = p["corpus"].pop("genres")
    probs = validate(p)
    keys = [pr.where for pr in probs]
    assert "params.yaml: corpus.generes" in keys
    typo = next(pr for pr in probs if pr.where == "params.yaml: corpus.generes")
    assert typo.what == "unknown key"
    assert "corpus.genres" in typo.fix
    # the real key is now missing as well, and that is reported in the same pass
    assert "params.yaml: corpus.genres" in keys


def test_unknown_section_suggests_nearest():
    p = project_params()
    p["corpsu"] = {"path": "x"}
    probs = validate(p)
    bad = [pr for pr in probs if pr.where == "params.yaml: corpsu"]
    assert bad and "corpus" in bad[0].fix


def test_types_and_ranges_reported_together():
    p = project_params()
    p["demo"]["n_films"] = -3
    p["demo"]["video"] = "yes"
    p["demo"]["seed"] = 1.5
    probs = {pr.where: pr for pr in validate(p)}
    assert "below the minimum" in probs["params.yaml: demo.n_films"].what
    assert "expected a bool" in probs["params.yaml: demo.video"].what
    assert "expected a int" in probs["params.yaml: demo.seed"].what


def test_bool_is_not_an_int():
    p = project_params()
    p["demo"]["n_films"] = True
    assert any(pr.where == "params.yaml: demo.n_films" for pr in validate(p))


def test_cross_field_check():
    p = project_params()
    p["demo"]["min_tracks"], p["demo"]["max_tracks"] = 9, 3
    assert any("min_tracks" in pr.where for pr in validate(p))


def test_load_params_raises_with_every_problem(tmp_path):
    p = project_params()
    p["corpus"]["pathh"] = "x"
    p["demo"]["n_films"] = 0
    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(p))
    with pytest.raises(ParamsError) as e:
        load_params(f)
    text = e.value.render()
    assert "corpus.pathh" in text and "did you mean 'corpus.path'" in text
    assert "demo.n_films" in text


def test_load_params_sections_only_checks_those(tmp_path):
    p = project_params()
    p["demo"]["n_films"] = 0  # broken section the caller does not read
    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(p))
    assert load_params(f, sections=["corpus"])["corpus"]["path"] == p["corpus"]["path"]
    with pytest.raises(ParamsError):
        load_params(f, sections=["demo"])


def test_invalid_yaml_and_missing_file(tmp_path):
    f = tmp_path / "params.yaml"
    f.write_text("corpus: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(f)
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")


# ---- each parameter declared once (filmscore.config): defaults, settings objects, params.yaml


def test_every_parameter_declares_a_valid_default():
    from filmscore.config import NO_DEFAULT, defaults, leaf_specs

    specs = leaf_specs()
    assert len(specs) > 100
    undeclared = [k for k, s in specs.items() if s.default is NO_DEFAULT]
    assert undeclared == []
    # the declared defaults alone are a valid params file (ranges, choices and cross-field checks)
    assert validate(defaults()) == []


def test_shipped_params_yaml_is_valid_and_complete():
    from filmscore.config import leaf_specs

    p = project_params()
    assert validate(p) == []

    def leaves(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from leaves(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}"

    assert set(leaves(p)) == set(leaf_specs())


def test_a_missing_key_names_the_key_and_its_default(tmp_path):
    p = project_params()
    del p["train"]["lr"]
    del p["cues"]["eval"]
    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(p))
    with pytest.raises(ParamsError) as e:
        load_params(f)
    text = e.value.render()
    assert "train.lr" in text and "is missing" in text and "lr: 5.0e-05" in text
    assert "cues.eval" in text and "eval: {iou: 0.5}" in text


def test_settings_objects_take_the_declared_defaults():
    from filmscore.config import defaults
    from filmscore.cues.settings import StampSettings
    from filmscore.features.mir import MirSettings
    from filmscore.features.visual import VisualSettings

    # a settings object built with no params equals one built from the declared section
    assert StampSettings() == StampSettings.from_params(defaults("cues"))
    assert MirSettings() == MirSettings.from_params(defaults("features.mir"))
    assert VisualSettings() == VisualSettings.from_params(defaults("features.visual"))
    # and from the shipped file's values (hand-checked: the paper's texture window and hop)
    assert MirSettings().texture_window == 5.0 and MirSettings().texture_hop == 3.35
    assert StampSettings().xcorr.min_z == project_params()["cues"]["xcorr"]["min_z"]


def test_a_settings_class_cannot_restate_a_default():
    from dataclasses import dataclass

    from filmscore.config import schema_defaults

    with pytest.raises(TypeError, match="cv.folds"):
        @dataclass
        @schema_defaults("cv")
        class Bad:
            folds: int = 3

    @dataclass
    @schema_defaults("cv")
    class Good:
        folds: int
        seed: int

    assert (Good().folds, Good().seed) == (0, 0)
