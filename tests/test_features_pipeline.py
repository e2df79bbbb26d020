"""The features stage end to end on synthetic films: bags, grid, bad input, skipped sets, cache, jobs."""

from __future__ import annotations

import copy
import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from filmscore.config import load_params, validate
from filmscore.errors import FilmscoreError, ParamsError
from filmscore.features import extract as ex
from filmscore.features.bags import FRAME_KEYS, CUE_KEYS, feature_columns, read_set
from filmscore.features.mir import COLUMNS as MIR_COLUMNS
from tests.features_media import write_video, write_wav

ROOT = Path(__file__).resolve().parents[1]
SR = 22050
FPS = 8
VW, VH = 64, 36


def base_params(sets=("mir", "visual"), jobs=1, audio="film") -> dict:
    """params.yaml with these sets; audio from the film's mix (track mode: tests/test_features_source.py)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["features"]["sets"] = list(sets)
    params["features"]["audio"] = audio
    params["features"]["jobs"] = jobs
    params["features"]["visual"]["size"] = [VW, VH]
    return params


def film_a_audio(seconds: int = 24) -> np.ndarray:
    """0-8 s a 440 Hz tone, 8-16 s clicks at 120 BPM, 16-24 s silence (stereo)."""
    t = np.arange(seconds * SR) / SR
    x = np.zeros_like(t)
    x[: 8 * SR] = 0.4 * np.sin(2 * np.pi * 440 * t[: 8 * SR])
    clicks = (np.arange(8, 16, 0.5) * SR).astype(int)
    x[clicks] = 0.9
    return np.stack([x, x], axis=1)


def film_a_frames(seconds: int = 24) -> np.ndarray:
    """Second s is a uniform grey of level 10 * s (so brightness = 10 s / 255, contrast 0)."""
    frames = np.zeros((seconds * FPS, VH, VW, 3), np.uint8)
    for i in range(len(frames)):
        frames[i] = 10 * (i // FPS)
    return frames


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    write_video(root / "films" / "filmA.mp4", film_a_frames(), FPS, film_a_audio(), SR)
    rng = np.random.default_rng(0)
    t = np.arange(12 * 8000) / 8000
    write_wav(root / "films" / "filmB.wav", 0.3 * np.sin(2 * np.pi * 330 * t) + rng.normal(0, 0.01, len(t)), 8000)
    for fid in ("filmA", "filmB"):
        write_wav(root / "soundtracks" / fid / "track1.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 8000)
    (root / "labels.csv").write_text("film_id,genres\nfilmA,Action\nfilmB,Drama|Comedy\n")
    return root


def cue_table() -> pd.DataFrame:
    rows = [
        ("filmA", "t1", 1.0, 7.5),    # tone: 6 frames
        ("filmA", "t2", 8.0, 16.0),   # clicks: 8 frames
        ("filmA", "t3", 17.0, 19.0),  # silence: 2 frames
        ("filmA", "t1", 23.5, 30.0),  # runs past the 24 s film: 0.5 s left, 1 frame
        ("filmB", "t1", 0.5, 0.8),    # 0.3 s: 1 frame
        ("filmB", "t1", 2.0, 10.0),   # 8 frames
    ]
    df = pd.DataFrame(rows, columns=["film_id", "track", "start", "end"])
    df["track_offset"] = 0.0
    df["confidence"] = 1.0
    df["cue_id"] = [f"{f}:{i:04d}" for f, i in zip(df.film_id, df.groupby("film_id").cumcount())]
    return df


def films_of(root: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted((root / "films").iterdir())}


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    """One extraction of mir + visual over the two films, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("out")
    statuses = ex.extract_features(base_params(), films_of(corpus), cue_table(), out / "features", out / "cache")
    return out, statuses


def test_tables_follow_the_contract(run):
    out, statuses = run
    assert statuses["mir"]["status"] == "ok" and statuses["visual"]["status"] == "ok"
    frames, cues, status = read_set(out / "features", "mir")
    assert status["status"] == "ok"
    assert list(frames.columns[:3]) == list(FRAME_KEYS) and list(cues.columns[:4]) == list(CUE_KEYS)
    assert feature_columns(frames) == list(MIR_COLUMNS) == feature_columns(cues)
    assert all(frames[c].dtype == np.float32 for c in MIR_COLUMNS)
    assert all(cues[c].dtype == np.float32 for c in MIR_COLUMNS)
    assert np.isfinite(frames[list(MIR_COLUMNS)].to_numpy()).all()
    # the 1 Hz grid: max(1, floor(duration)) frames per cue at start + i (cut at the film's end)
    expected = {"filmA:0000": (1.0, 6), "filmA:0001": (8.0, 8), "filmA:0002": (17.0, 2), "filmA:0003": (23.5, 1),
                "filmB:0000": (0.5, 1), "filmB:0001": (2.0, 8)}
    for cue_id, (start, n) in expected.items():
        t = frames.loc[frames.cue_id == cue_id, "t"].to_numpy()
        assert t == pytest.approx(start + np.arange(n))
    assert len(frames) == sum(n for _, n in expected.values())
    # cue level = frames averaged per cue, with the cue table's start and end
    assert list(cues.cue_id) == list(expected)
    mean = frames.groupby("cue_id")[list(MIR_COLUMNS)].mean()
    np.testing.assert_allclose(cues.set_index("cue_id")[list(MIR_COLUMNS)].to_numpy(), mean.loc[cues.cue_id].to_numpy(),
                               rtol=1e-5, atol=1e-6)
    assert cues.set_index("cue_id").loc["filmA:0003", "end"] == 30.0


def test_features_are_taken_from_the_film_at_the_cue_times(run):
    out, _ = run
    cues = read_set(out / "features", "mir")[1].set_index("cue_id")
    tone, clicks, silent = cues.loc["filmA:0000"], cues.loc["filmA:0001"], cues.loc["filmA:0002"]
    assert tone["spectral_centroid_mean"] == pytest.approx(440, abs=30)  # AAC-coded tone
    assert tone["chroma_A_mean"] == pytest.approx(1.0, abs=0.01)
    assert clicks["tempo_mean"] == pytest.approx(120, abs=3)
    assert silent["rms_mean"] < 1e-4 and tone["rms_mean"] == pytest.approx(0.4 / np.sqrt(2), rel=0.05)
    b = cues.loc["filmB:0001"]  # 8 kHz source: 330 Hz tone, nothing above 4 kHz
    assert b["zero_crossing_rate_mean"] == pytest.approx(330, rel=0.05)


def test_visual_seconds_and_audio_only_film(run):
    out, statuses = run
    frames, cues, status = read_set(out / "features", "visual")
    assert feature_columns(frames) == ["brightness", "contrast"]
    assert set(frames.film_id) == {"filmA"}  # filmB has no video stream
    assert any("filmB.wav has no video stream" in w for w in status["warnings"])
    # second s is grey level 10 s: brightness 10 s / 255, uniform so no contrast
    got = frames.set_index("t")
    for t in (1.0, 5.0, 8.0, 15.0, 18.0, 23.5):
        assert got.loc[t, "brightness"] == pytest.approx(10 * int(t) / 255, abs=0.01)
        assert got.loc[t, "contrast"] == pytest.approx(0.0, abs=0.01)
    # the same 1 Hz rows as the MIR set: they join on (film_id, cue_id, t)
    mir = read_set(out / "features", "mir")[0]
    assert set(map(tuple, frames[list(FRAME_KEYS)].to_numpy())) == \
        set(map(tuple, mir.loc[mir.film_id == "filmA", list(FRAME_KEYS)].to_numpy()))


def test_warnings_name_the_bad_input(run):
    out, _ = run
    warns = read_set(out / "features", "mir")[2]["warnings"]
    text = "\n".join(warns)
    assert "filmA:0002" in text and "silent" in text
    assert "filmA:0003" in text and "after the end" in text
    assert "filmB:0000" in text and "under one second" in text
    assert "filmB.wav" in text and "8000 Hz" in text


def test_sets_not_run_are_skipped_with_key_only_tables(run):
    out, statuses = run
    for name in ("musicnn", "vggish", "openl3"):
        frames, cues, status = read_set(out / "features", name)
        assert status == {"status": "skipped", "reason": "not in features.sets (params.yaml)"}
        assert frames.empty and list(frames.columns) == list(FRAME_KEYS)
        assert cues.empty and list(cues.columns) == list(CUE_KEYS)


def _fake_embedding_modules(monkeypatch, missing_message=None):
    """Stand-ins for filmscore.features.{weights,vggish,openl3} with the agreed interface."""
    weights = types.ModuleType("filmscore.features.weights")

    class WeightsMissing(FilmscoreError):
        pass

    weights.WeightsMissing = WeightsMissing
    calls = []

    class VGGish:
        sample_rate = 16000

        @classmethod
        def from_params(cls, section):
            if missing_message:
                raise WeightsMissing(missing_message)
            return cls()

        def embed(self, audio, sr):
            calls.append((len(audio), sr))
            n = int(len(audio) // sr)
            rms = float(np.sqrt(np.mean(np.square(audio)))) if len(audio) else 0.0
            return np.tile(np.array([rms, sr, n], np.float32), (n, 1))

    vggish = types.ModuleType("filmscore.features.vggish")
    vggish.VGGish = VGGish
    monkeypatch.setitem(sys.modules, "filmscore.features.weights", weights)
    monkeypatch.setitem(sys.modules, "filmscore.features.vggish", vggish)
    return calls


def test_missing_weights_skip_the_set_and_the_rest_runs(corpus, tmp_path, monkeypatch, caplog):
    msg = "VGGish weights not found at models/vggish.pth: download them from <url> and put them there"
    _fake_embedding_modules(monkeypatch, missing_message=msg)
    statuses = ex.extract_features(base_params(sets=("mir", "vggish")), films_of(corpus), cue_table().head(1),
                                   tmp_path / "features", tmp_path / "cache")
    assert statuses["vggish"]["status"] == "skipped" and msg in statuses["vggish"]["reason"]
    frames, cues, status = read_set(tmp_path / "features", "vggish")
    assert status["status"] == "skipped" and msg in status["reason"]
    assert frames.empty and list(frames.columns) == list(FRAME_KEYS)
    assert read_set(tmp_path / "features", "mir")[2]["status"] == "ok"
    assert msg in caplog.text


def test_embedding_set_decoded_at_its_rate_on_the_grid(corpus, tmp_path, monkeypatch):
    calls = _fake_embedding_modules(monkeypatch)
    cues = cue_table()
    ex.extract_features(base_params(sets=("vggish",)), films_of(corpus), cues, tmp_path / "features", tmp_path / "cache")
    frames, cue_level, status = read_set(tmp_path / "features", "vggish")
    assert status["status"] == "ok"
    assert feature_columns(frames) == ["vggish_000", "vggish_001", "vggish_002"]
    assert {sr for _, sr in calls} == {16000}
    # cues under one second give the model no full second: no frame, and a warning
    assert set(cue_level.cue_id) == {"filmA:0000", "filmA:0001", "filmA:0002", "filmB:0001"}
    assert any("filmB:0000" in w and "too short" in w for w in status["warnings"])
    assert len(frames[frames.cue_id == "filmA:0000"]) == 6  # 6.5 s: 6 frames
    assert read_set(tmp_path / "features", "mir")[2]["reason"].startswith("not in features.sets")


def test_bad_cue_tables_are_refused(corpus, tmp_path):
    films = films_of(corpus)
    params = base_params()
    with pytest.raises(FilmscoreError, match="missing columns"):
        ex.extract_features(params, films, cue_table().drop(columns=["end"]), tmp_path / "f", tmp_path / "c")
    bad = cue_table()
    bad.loc[1, "end"] = bad.loc[1, "start"] - 1
    with pytest.raises(FilmscoreError, match="invalid times"):
        ex.extract_features(params, films, bad, tmp_path / "f", tmp_path / "c")
    other = cue_table()
    other.loc[0, "film_id"] = "nosuchfilm"
    with pytest.raises(FilmscoreError, match="nosuchfilm"):
        ex.extract_features(params, films, other, tmp_path / "f", tmp_path / "c")
    assert not (tmp_path / "f").exists()


def test_corrupt_film_stops_with_its_name_and_writes_nothing(corpus, tmp_path):
    films = dict(films_of(corpus))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a film at all" * 100)
    films["filmA"] = broken
    with pytest.raises(FilmscoreError, match="broken.mp4"):
        ex.extract_features(base_params(sets=("mir",)), films, cue_table(), tmp_path / "f", tmp_path / "c")
    assert not (tmp_path / "f" / "mir").exists()


def test_cache_recomputes_only_what_changed(corpus, tmp_path, monkeypatch):
    computed = []
    real = ex.extract_film

    def counting(feature_set, extractor, film_id, path, cues, src=None):
        computed.append((feature_set.name, film_id))
        return real(feature_set, extractor, film_id, path, cues, src)

    monkeypatch.setattr(ex, "extract_film", counting)
    films = films_of(corpus)
    out, cache = tmp_path / "features", tmp_path / "cache"
    two = cue_table()[lambda d: d.film_id == "filmA"].head(2)
    one_b = cue_table()[lambda d: d.film_id == "filmB"].tail(1)
    params = base_params()
    ex.extract_features(params, {"filmA": films["filmA"]}, two, out, cache)
    assert sorted(computed) == [("mir", "filmA"), ("visual", "filmA")]
    first = read_set(out, "mir")[0]
    computed.clear()
    ex.extract_features(params, {"filmA": films["filmA"]}, two, out, cache)  # nothing changed
    assert computed == []
    pd.testing.assert_frame_equal(read_set(out, "mir")[0], first)
    # a film added to the corpus: only it is computed
    ex.extract_features(params, films, pd.concat([two, one_b]), out, cache)
    assert sorted(computed) == [("mir", "filmB"), ("visual", "filmB")]
    assert set(read_set(out, "mir")[0].film_id) == {"filmA", "filmB"}
    # a MIR parameter changed: MIR recomputed, visual from the cache
    computed.clear()
    changed = copy.deepcopy(params)
    changed["features"]["mir"]["texture_hop"] = 1.0
    ex.extract_features(changed, films, pd.concat([two, one_b]), out, cache)
    assert sorted(computed) == [("mir", "filmA"), ("mir", "filmB")]
    # a film's content changed (same name): that film recomputed
    computed.clear()
    moved = tmp_path / "films"
    moved.mkdir()
    shutil.copy(films["filmB"], moved / "filmB.wav")
    with open(moved / "filmB.wav", "r+b") as f:  # flip audio samples, keep the header
        f.seek(2000)
        f.write(b"\x10\x20" * 500)
    ex.extract_features(changed, {"filmA": films["filmA"], "filmB": moved / "filmB.wav"}, pd.concat([two, one_b]),
                        out, cache)
    assert sorted(computed) == [("mir", "filmB"), ("visual", "filmB")]
    # an incomplete cache entry (no sidecar) is not trusted
    computed.clear()
    for sidecar in (cache / "mir" / "filmA").glob("*.json"):
        sidecar.unlink()
    ex.extract_features(changed, {"filmA": films["filmA"], "filmB": moved / "filmB.wav"}, pd.concat([two, one_b]),
                        out, cache)
    assert computed == [("mir", "filmA")]


def test_parallel_jobs_give_the_same_tables(corpus, run, tmp_path):
    out, _ = run
    ex.extract_features(base_params(jobs=2), films_of(corpus), cue_table(), tmp_path / "features", tmp_path / "cache")
    for name in ("mir", "visual"):
        a, ca, _ = read_set(out / "features", name)
        b, cb, _ = read_set(tmp_path / "features", name)
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(ca, cb)


def test_params_schema_checks_the_features_section():
    params = base_params()
    assert validate(params, sections=["features"]) == []
    bad = copy.deepcopy(params)
    bad["features"]["sets"] = ["mir", "vgish"]
    bad["features"]["mir"]["texture_hop"] = 6.0
    bad["features"]["visual"]["region_cut"] = "kmeans"
    found = "\n".join(map(str, validate(bad, sections=["features"])))
    assert "features.sets[1]" in found and "vggish" in found
    assert "features.visual.region_cut" in found
    bad["features"]["sets"] = ["mir"]
    bad["features"]["visual"]["region_cut"] = "otsu"
    assert "texture_hop" in "\n".join(map(str, validate(bad, sections=["features"])))


def test_stage_runs_from_params_yaml(corpus, tmp_path, monkeypatch):
    import stages.features as stage

    params = base_params(sets=("mir",))
    params["corpus"]["path"] = str(corpus)
    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(FilmscoreError, match="cues.parquet"):
        stage.main(load_params(sections=["corpus", "features"]))
    Path("data/cues").mkdir(parents=True)
    cue_table().to_parquet("data/cues/cues.parquet", index=False)
    stage.main(load_params(sections=["corpus", "features"]))
    assert json.loads(Path("data/features/mir/status.json").read_text())["status"] == "ok"
    assert json.loads(Path("data/features/visual/status.json").read_text())["status"] == "skipped"
    assert any(Path("data/features/cache/mir").rglob("*.parquet"))
    with pytest.raises(ParamsError):
        params["features"]["jobs"] = 0
        Path("params.yaml").write_text(yaml.safe_dump(params))
        load_params(sections=["corpus", "features"])


def test_film_hashes_trust_the_manifest_only_when_the_size_matches(corpus, tmp_path):
    from filmscore.files import file_hash

    films = films_of(corpus)
    size = films["filmB"].stat().st_size
    manifest = pd.DataFrame({"film_id": ["filmA", "filmB"], "role": ["film", "film"],
                             "sha256": ["from-manifest-a", "from-manifest-b"],
                             "size_bytes": [films["filmA"].stat().st_size, size + 1]})
    hashes = ex.film_hashes(films, manifest)
    assert hashes["filmA"] == "from-manifest-a"  # no need to read a 2-hour film again
    assert hashes["filmB"] == file_hash(films["filmB"])  # the file changed since the manifest
    assert ex.film_hashes(films, None) == {f: file_hash(p) for f, p in films.items()}


# ---------------------------------------------------------------- cache keys (filmscore.features.cache)


def _copy_sources(tmp_path: Path) -> tuple[Path, Path]:
    """A temporary copy of the package sources (src/filmscore, stages): roots for the provenance functions."""
    src, repo = tmp_path / "src", tmp_path / "repo"
    shutil.copytree(ROOT / "src" / "filmscore", src / "filmscore", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "stages", repo / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    return src, repo


def test_editing_any_module_of_a_sets_import_closure_changes_its_key(tmp_path):
    from filmscore.features import cache, sets

    src, repo = _copy_sources(tmp_path)
    roots = (src, repo)
    vggish, mir = sets.get("vggish"), sets.get("mir")
    section = base_params()["features"]["vggish"]
    before = {n: cache.SetVersion.of(sets.get(n), base_params()["features"].get(n, {}), roots).digest
              for n in ("vggish", "mir")}
    # a constant of the VGGish front end: a module the package __init__ reaches only through model.py
    front = src / "filmscore" / "features" / "vggish" / "frontend.py"
    text = front.read_text()
    assert "import" in text
    front.write_text(text + "\nSOME_CONSTANT = 1\n")
    assert cache.SetVersion.of(vggish, section, roots).digest != before["vggish"]
    assert cache.SetVersion.of(mir, base_params()["features"]["mir"], roots).digest == before["mir"]
    front.write_text(text)
    assert cache.SetVersion.of(vggish, section, roots).digest == before["vggish"]
    # the per-film work and the shared modules it imports (decoding) count for every set
    for rel in ("features/film.py", "media.py", "features/bags.py"):
        f = src / "filmscore" / rel
        original = f.read_text()
        f.write_text(original + "\n# edited\n")
        assert cache.SetVersion.of(mir, base_params()["features"]["mir"], roots).digest != before["mir"], rel
        f.write_text(original)
    # a module no set imports (the MIL pooling layers) changes no key
    pools = src / "filmscore" / "mil" / "pools.py"
    pools.write_text(pools.read_text() + "\n# edited\n")
    assert cache.SetVersion.of(mir, base_params()["features"]["mir"], roots).digest == before["mir"]


def test_runtime_settings_change_neither_the_key_nor_the_result(corpus, tmp_path, monkeypatch):
    from filmscore.features import cache, sets

    params = base_params()
    result_change = {"vggish": {"postprocess": not params["features"]["vggish"]["postprocess"]},
                     "openl3": {"embedding_size": 6144 if params["features"]["openl3"]["embedding_size"] == 512 else 512},
                     "musicnn": {"output": "taggram" if params["features"]["musicnn"]["output"] != "taggram" else "both"}}
    for name in ("vggish", "openl3", "musicnn"):
        section = params["features"][name]
        key = cache.SetVersion.of(sets.get(name), section).digest
        for k, v in (("threads", 7), ("batch_size", 3), ("device", "cuda:1")):
            assert cache.SetVersion.of(sets.get(name), {**section, k: v}).digest == key, (name, k)
        # a result parameter does change it
        changed = {**section, **result_change[name]}
        assert cache.SetVersion.of(sets.get(name), changed).digest != key
    visual = params["features"]["visual"]
    assert cache.SetVersion.of(sets.get("visual"), {**visual, "batch_frames": 1}).digest == \
        cache.SetVersion.of(sets.get("visual"), visual).digest
    computed = []
    real = ex.extract_film
    monkeypatch.setattr(ex, "extract_film", lambda fs, *a: computed.append(fs.name) or real(fs, *a))
    films, cues = films_of(corpus), cue_table().head(2)
    ex.extract_features(params, films, cues, tmp_path / "a", tmp_path / "cache")
    assert sorted(computed) == ["mir", "visual"]
    computed.clear()
    other = copy.deepcopy(params)
    other["features"]["jobs"] = 2
    other["features"]["visual"]["batch_frames"] = 3
    ex.extract_features(other, films, cues, tmp_path / "b", tmp_path / "cache")
    assert computed == []  # every result from the cache
    for name in ("mir", "visual"):
        pd.testing.assert_frame_equal(read_set(tmp_path / "a", name)[0], read_set(tmp_path / "b", name)[0])


def test_a_torn_or_foreign_cache_entry_is_recomputed(corpus, tmp_path, monkeypatch, caplog):
    from filmscore.features import cache

    computed = []
    real = ex.extract_film
    monkeypatch.setattr(ex, "extract_film", lambda fs, *a: computed.append(fs.name) or real(fs, *a))
    params, films, cues = base_params(sets=("mir",)), films_of(corpus), cue_table().head(2)
    out, store = tmp_path / "features", tmp_path / "cache"
    ex.extract_features(params, films, cues, out, store)
    first = read_set(out, "mir")[0]
    (parquet,) = (store / "mir" / "filmA").glob("*.parquet")
    # killed mid-write: the file is cut short (a copy interrupted, a non-atomic file system)
    data = parquet.read_bytes()
    parquet.write_bytes(data[: len(data) // 2])
    computed.clear()
    ex.extract_features(params, films, cues, out, store)
    assert computed == ["mir"]
    assert "broken" in caplog.text and parquet.name in caplog.text
    pd.testing.assert_frame_equal(read_set(out, "mir")[0], first)
    # a sidecar that is not JSON (cut mid-write too)
    (sidecar,) = (store / "mir" / "filmA").glob("*.json")
    sidecar.write_text('{"film_id": "filmA", "warn')
    computed.clear()
    ex.extract_features(params, films, cues, out, store)
    assert computed == ["mir"]
    # an entry of another code version (another digest) is never read: the key differs
    computed.clear()
    monkeypatch.setattr(cache, "code_digest", lambda fs, roots=None: "another version of the code")
    ex.extract_features(params, films, cues, out, store)
    assert computed == ["mir"]
    assert len(list((store / "mir" / "filmA").glob("*.parquet"))) == 2  # the old entry stays, unread


def test_the_registry_is_the_one_list_of_feature_sets():
    from filmscore import config
    from filmscore.features import sets
    from filmscore.mil import names

    assert config.FEATURE_SETS == names.FEATURE_SETS == sets.NAMES == ("mir", "musicnn", "vggish", "openl3", "visual")
    assert config.SCHEMA["features"]["sets"].of.choices == sets.NAMES
    assert config.SCHEMA["grid"]["sets"].of.choices == sets.NAMES
    for fs in sets.REGISTRY:
        assert fs.name in config.SCHEMA["features"], f"features.{fs.name} has no schema section"
        cls = fs.load()
        assert callable(getattr(cls, "from_params", None)) and cls.__module__.startswith(fs.module)
        assert hasattr(cls, "embed" if fs.audio else "film")
    assert sets.AUDIO == ("mir", "musicnn", "vggish", "openl3")
    with pytest.raises(KeyError, match="known: mir, musicnn, vggish"):
        sets.get("musicnn2")
