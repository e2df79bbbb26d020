"""Atomic outputs: an error never leaves a partial file, and success replaces the old one whole."""

import pandas as pd
import pytest

from filmscore.files import atomic_dir, atomic_path, read_table, write_table


def test_atomic_path_error_keeps_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_replaces_whole_or_nothing(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    (target / "a").write_text("1")
    with pytest.raises(ValueError):
        with atomic_dir(target) as tmp:
            (tmp / "b").write_text("2")
            raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


@pytest.mark.parametrize("ext", [".parquet", ".csv"])
def test_table_roundtrip(tmp_path, ext):
    df = pd.DataFrame({"film_id": ["a", "b"], "x": [1.5, -2.0]})
    p = write_table(df, tmp_path / f"t{ext}")
    pd.testing.assert_frame_equal(read_table(p), df)


def test_unknown_table_extension(tmp_path):
    with pytest.raises(ValueError, match="unsupported table extension"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_json_and_csv_round_last_bit_noise(tmp_path):
    import json

    from filmscore.files import write_json

    a, b = 0.1 + 0.2, 0.3  # differ in the last bit, like sums taken in another order
    assert a != b
    write_json(tmp_path / "a.json", {"x": a, "nested": [a, float("nan")], "n": 3})
    write_json(tmp_path / "b.json", {"x": b, "nested": [b, float("nan")], "n": 3})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert json.loads((tmp_path / "a.json").read_text())["x"] == 0.3
    write_table(pd.DataFrame({"v": [a, 1234.5678901234567]}), tmp_path / "a.csv")
    write_table(pd.DataFrame({"v": [b, 1234.5678901234567]}), tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert read_table(tmp_path / "a.csv").v.tolist() == [0.3, 1234.56789012]
