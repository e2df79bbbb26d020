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
