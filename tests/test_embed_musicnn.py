"""musicnn port: frontend vs librosa, the shipped checkpoints, parity with the release's TensorFlow graph,
known signals, bad input, and the weights command.

Tests that need the real weights use models/musicnn/<model>.npz when `filmscore
weights fetch-musicnn` has written them, else convert the wheel (downloaded
with pip; skipped when PyPI is unreachable).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import musicnn_fixtures as fx  # noqa: E402

from filmscore import cli  # noqa: E402
from filmscore.errors import FilmscoreError  # noqa: E402
from filmscore.features.musicnn import Musicnn, fetch, frontend  # noqa: E402
from filmscore.features.musicnn import params as P  # noqa: E402
from filmscore.features.musicnn.model import tag_column, weights_file  # noqa: E402
from filmscore.features.musicnn.network import load_network, tf_variables  # noqa: E402
from filmscore.features.tfcheckpoint import read_index  # noqa: E402
from filmscore.features.weights import WeightsCorrupt, WeightsMissing  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SR = fx.SR


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("wheel")
    try:
        return fetch.download_wheel(d)
    except FilmscoreError as e:
        pytest.skip(f"the musicnn wheel cannot be downloaded here: {e.render()[:200]}")


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory) -> Path:
    """Folder holding the four <model>.npz: the repository's models/musicnn when current, else converted now."""
    here = ROOT / P.WEIGHTS_DIR
    if all(fetch.is_current(weights_file(here, m), m) for m in P.MODELS):
        return here
    d = tmp_path_factory.mktemp("musicnn")
    try:
        fetch.fetch_musicnn(d)
    except FilmscoreError as e:
        pytest.skip(f"the musicnn wheel cannot be downloaded here: {e.render()[:200]}")
    return d


def model(weights_dir, name="MSD_musicnn", output="both", **kw) -> Musicnn:
    return Musicnn.from_params({"weights": str(weights_dir), "model": name, "output": output, **kw})


# --------------------------------------------------------------------------
# Frontend
# --------------------------------------------------------------------------

def test_frontend_matches_librosa():
    librosa = pytest.importorskip("librosa")
    y = fx.drum_loop(3.3) + fx.test_tone(3.3)
    mine = frontend.mel_power(y)
    # the release: librosa.feature.melspectrogram defaults + its settings; reflect padding as librosa < 0.10
    ref = librosa.feature.melspectrogram(y=y.astype(np.float64), sr=SR, n_fft=512, hop_length=256, n_mels=96,
                                         pad_mode="reflect").T
    assert mine.shape == ref.shape == (1 + len(y) // 256, 96)
    np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-9)
    # float16 storage, then log10(10000 x + 1)
    by_hand = np.log10(10000 * ref.astype(np.float16).astype(np.float32) + 1)
    np.testing.assert_array_equal(frontend.log_compress(ref), by_hand)


def test_patches_centred_on_each_second():
    # frame k is centred at 16 k ms; second i's centre i + 0.5 s is frame round(31.25 + 62.5 i), the patch's 94th
    assert frontend.patch_starts(2000, 5).tolist() == [0, 1, 63, 126, 188]  # 31-93 < 0 -> 0; 94-93; 156-93; ...
    assert frontend.patch_starts(300, 5).tolist() == [0, 1, 63, 113, 113]  # the last patch is frames 113..299
    assert frontend.patch_starts(100, 3).tolist() == [0, 0, 0]  # shorter than a patch: the repeated one
    spec = np.arange(60, dtype=np.float32)[:, None] * np.ones((1, 96), np.float32)
    padded = frontend.repeat_pad(spec)
    assert padded.shape == (187, 96)
    np.testing.assert_array_equal(padded[:, 0], np.concatenate([np.arange(60)] * 3 + [np.arange(7)]))
    x = np.random.default_rng(0).standard_normal((400, 96)).astype(np.float32)
    np.testing.assert_array_equal(frontend.patches(x, np.array([5]))[0], x[5:192])


# --------------------------------------------------------------------------
# The shipped checkpoints and the TensorFlow reference
# --------------------------------------------------------------------------

def test_shipped_checkpoints_match_the_networks(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as z:
        for m, arch in P.MODELS.items():
            index = tmp_path / f"{m}.index"
            index.write_bytes(z.read(f"musicnn/{m}/.index"))
            _, entries = read_index(index)
            want = tf_variables(arch)
            shapes = {k: e.shape for k, e in entries.items()}
            assert {k: shapes.get(k) for k in want} == want, m
            # the rest are the optimiser's: Adam slots (two per trainable variable) and its beta powers
            rest = set(shapes) - set(want)
            assert all(k.endswith(("/Adam", "/Adam_1")) or k.startswith("beta") for k in rest), m
            assert sum(k.endswith("/Adam") for k in rest) == sum(not k.split("/")[1].startswith("moving") for k in want)


def test_parity_with_the_release_graph(weights_dir):
    """The port against the musicnn 0.1.0 graph run in TensorFlow (tests/data/make_musicnn_reference.py)."""
    ref = np.load(fx.REFERENCE)
    audio = {"battle": ref["battle_pcm16"] / 32768.0, "forest": ref["forest_pcm16"] / 32768.0, "tone": fx.test_tone()}
    for name in P.MODELS:
        m = model(weights_dir, name)
        n_pen = m.dim - P.N_TAGS
        # the network alone, on the reference's own input patches
        patches = np.stack([frontend.log_compress(ref[f"{k}_mel16"]) for k in audio])
        got = m.embed_patches(patches)
        for i, k in enumerate(audio):
            np.testing.assert_allclose(got[i, n_pen:], ref[f"{k}_{name}_taggram"], atol=1e-3, rtol=0)
            np.testing.assert_allclose(got[i, :n_pen], ref[f"{k}_{name}_penultimate"], atol=1e-3, rtol=0)
            # the whole pipeline from the samples: second 0's patch is the reference's first patch
            row = m.embed(audio[k].astype(np.float32), SR)[0]
            np.testing.assert_allclose(row, got[i], atol=1e-3, rtol=0)
        assert ref[f"tone_{name}_taggram"].std() > 0.01  # the reference discriminates: not a constant output


def test_shared_front_end_convolutions_equal_patch_by_patch(weights_dir):
    m = model(weights_dir, batch_size=3)
    y = fx.drum_loop(9.3) + 0.5 * fx.piano_tone(9.3)
    spec = frontend.log_mel(y, SR)
    starts = np.array([0, 1, 2, 60, 200, len(spec) - 187])
    np.testing.assert_allclose(m.embed_starts(spec, starts), m.embed_patches(frontend.patches(spec, starts)),
                               atol=1e-5, rtol=0)


def _front_bound(v) -> float:
    """Largest |input| of the front-end convolutions, by hand from the checkpoint's input batch norm: log-mel
    values lie in [0, log10(1e4 * float32 max + 1)] = [0, 42.53]."""
    s = float(v["batch_normalization/gamma"][0] / np.sqrt(v["batch_normalization/moving_variance"][0] + 0.001))
    b = float(v["batch_normalization/beta"][0] - v["batch_normalization/moving_mean"][0] * s)
    return max(abs(b), abs(42.53 * s + b))


def _random_musicnn_variables(seed=0):
    rng = np.random.default_rng(seed)
    v = {k: rng.normal(0, 0.1, shape).astype(np.float32) for k, shape in tf_variables("musicnn").items()}
    for k in v:
        if k.endswith("moving_variance"):
            v[k] = rng.uniform(0.5, 2.0, v[k].shape).astype(np.float32)
        if k.endswith("gamma"):
            v[k] = rng.uniform(0.5, 1.5, v[k].shape).astype(np.float32) * rng.choice([-1, 1], v[k].shape)
    return v


def _outputs(net, x):
    with torch.inference_mode():
        return [o.numpy() for o in net(torch.from_numpy(x))]


def test_dead_front_end_filters_are_dropped_without_changing_the_outputs(weights_dir):
    """The published MSD_musicnn has most front-end filters at |w| ~ 1e-29: dropped, the outputs the same."""
    from filmscore.features.musicnn.network import from_variables

    v = dict(np.load(weights_file(weights_dir, "MSD_musicnn")))
    bound = _front_bound(v)
    # live filters counted from the TF kernels themselves (time, freq, in, out): L1 norm x bound > 1e-6
    live = sum(int((np.abs(v[f"conv2d{s}/kernel"]).sum(axis=(0, 1, 2)) * bound > 1e-6).sum())
               for s in ("", "_1", "_2", "_3", "_4"))
    assert live < 561 / 4  # most of the front end is dead in this checkpoint
    pruned, full = from_variables(v, "musicnn"), from_variables(v, "musicnn", prune=False)
    assert len(pruned.front_kept) == live and len(full.front_kept) == 561
    y = fx.drum_loop(4.0) + 0.5 * fx.piano_tone(4.0)
    real = frontend.patches(frontend.log_mel(y, SR), np.array([0, 40]))
    loud = np.full((1, 187, 96), 8.82, np.float32)  # the largest float16 mel power, log-compressed
    x = np.concatenate([real, loud, np.zeros_like(loud)]).astype(np.float32)
    for a, b in zip(_outputs(pruned, x), _outputs(full, x)):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)


def test_pruning_a_planted_dead_filter_set_and_a_whole_group():
    """Random weights; 30 timbral filters scaled to 1e-14, the whole 32-frame temporal group zero, one
    filter at 1e-4 (alive: its output moves by far more than the tolerance). Exactly the dead ones go; the
    outputs, patch by patch and with the shared front end, equal the unpruned network's."""
    from filmscore.features.musicnn.network import from_variables

    v = _random_musicnn_variables()
    dead = np.random.default_rng(1).choice(204, 30, replace=False)
    v["conv2d/kernel"][..., dead] *= 1e-14
    v["conv2d_4/kernel"][:] = 0.0
    v["conv2d_1/kernel"][..., 5] *= 1e-3
    pruned, full = from_variables(v, "musicnn"), from_variables(v, "musicnn", prune=False)
    assert len(pruned.front_kept) == 561 - 30 - 51
    assert set(pruned.front_kept.tolist()).isdisjoint(set(dead.tolist()) | set(range(510, 561)))
    spec = np.abs(np.random.default_rng(2).normal(0, 2, (400, 96))).astype(np.float32)
    starts = np.array([0, 100, 213])
    x = np.stack([spec[s:s + 187] for s in starts])
    # random weights give outputs of 100 and more: float32 rounding of sums taken in another order
    for a, b in zip(_outputs(pruned, x), _outputs(full, x)):
        np.testing.assert_allclose(a, b, atol=1e-5 * np.abs(b).max(), rtol=0)
    with torch.inference_mode():
        t = torch.from_numpy(spec)
        shared = pruned.forward_shared(t, pruned.front_sequence(t), torch.from_numpy(starts))
    for a, b in zip(shared, _outputs(full, x)):
        np.testing.assert_allclose(a.numpy(), b, atol=1e-5 * np.abs(b).max(), rtol=0)


@pytest.mark.slow
def test_known_signals_move_the_tags_the_expected_way(weights_dir):
    """Expectation written before looking: a sustained piano-like chord raises MTT's 'piano' and lowers its
    'drums' and 'beat' against a drum loop; MSD's 'electronic' is higher for the drum loop."""
    piano, drums = fx.piano_tone(), fx.drum_loop()
    mtt = model(weights_dir, "MTT_musicnn", "taggram")
    p, d = mtt.embed(piano, SR).mean(axis=0), mtt.embed(drums, SR).mean(axis=0)
    tag = {t: i for i, t in enumerate(mtt.tags)}
    assert p[tag["piano"]] > d[tag["piano"]]
    assert d[tag["drums"]] > p[tag["drums"]] and d[tag["beat"]] > p[tag["beat"]]
    msd = model(weights_dir, "MSD_musicnn", "taggram")
    e = {t: i for i, t in enumerate(msd.tags)}["electronic"]
    assert msd.embed(drums, SR)[:, e].mean() > msd.embed(piano, SR)[:, e].mean()


# --------------------------------------------------------------------------
# Rows, outputs, bad input
# --------------------------------------------------------------------------

def test_rows_outputs_and_columns(weights_dir):
    y = fx.drum_loop(4.6)
    both = model(weights_dir, output="both").embed(y, SR)
    assert both.shape == (5, 250) and both.dtype == np.float32  # 4.6 s: 5 rows
    pen = model(weights_dir, output="penultimate")
    tags = model(weights_dir, output="taggram")
    np.testing.assert_allclose(pen.embed(y, SR), both[:, :200], atol=1e-6)
    np.testing.assert_allclose(tags.embed(y, SR), both[:, 200:], atol=1e-6)
    assert ((both[:, 200:] > 0) & (both[:, 200:] < 1)).all()
    assert pen.columns[:2] == ["musicnn_000", "musicnn_001"] and len(pen.columns) == 200
    assert tags.columns[5] == "musicnn_tag_female_vocalists" and tag_column("Hip-Hop") == "musicnn_tag_hip_hop"
    assert len(set(tags.columns)) == 50
    vgg = model(weights_dir, "MTT_vgg", "both")
    assert vgg.dim == 256 + 50 and vgg.columns[-1] == "musicnn_tag_choral"
    assert pen.embed(y, SR, n_seconds=7).shape == (7, 200)


def test_short_silent_low_rate_and_stereo_input(weights_dir):
    m = model(weights_dir, output="both")
    short = fx.piano_tone(1.2)  # under one 3 s patch: its spectrogram is repeated to fill one
    got = m.embed(short, SR)
    assert got.shape == (1, 250)
    tiled = frontend.repeat_pad(frontend.log_mel(short, SR))
    np.testing.assert_allclose(got[0], m.embed_patches(tiled[None])[0], atol=1e-5)

    silent = m.embed(np.zeros(5 * SR, np.float32), SR)
    assert silent.shape == (5, 250) and np.isfinite(silent).all()
    assert np.ptp(silent, axis=0).max() < 1e-5  # every second the same

    y8 = fx.drum_loop(6.0, sr=8000)  # an 8 kHz source: resampled; nothing above 4 kHz, still tagged
    low = m.embed(y8, 8000)
    assert low.shape == (6, 250) and np.isfinite(low).all()
    stereo = np.stack([fx.drum_loop(4.0), fx.drum_loop(4.0)], axis=1)
    np.testing.assert_allclose(m.embed(stereo, SR), m.embed(fx.drum_loop(4.0), SR), atol=1e-6)
    assert m.embed(np.zeros(0, np.float32), SR).shape == (0, 250)


def test_missing_and_mismatched_weights(weights_dir, tmp_path):
    with pytest.raises(WeightsMissing) as e:
        model(tmp_path)
    assert "fetch-musicnn" in e.value.reason and str(tmp_path / "MSD_musicnn.npz") in e.value.reason
    with np.load(weights_file(weights_dir, "MSD_musicnn")) as z:
        v = {k: z[k] for k in z.files}
    v["conv2d_5/kernel"] = v["conv2d_5/kernel"][:, :560]
    np.savez(tmp_path / "MSD_musicnn.npz", **v)
    with pytest.raises(WeightsCorrupt, match=r"conv2d_5/kernel: the file has \(7, 560, 1, 64\), the network needs "
                                             r"\(7, 561, 1, 64\)"):
        model(tmp_path)
    del v["dense_1/bias"]
    np.savez(tmp_path / "MSD_musicnn.npz", **v)
    with pytest.raises(WeightsCorrupt, match="dense_1/bias"):
        model(tmp_path)
    good = weights_file(weights_dir, "MTT_vgg").read_bytes()
    (tmp_path / "MTT_vgg.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(WeightsCorrupt, match="truncated or corrupt"):
        model(tmp_path, "MTT_vgg")


# --------------------------------------------------------------------------
# filmscore weights fetch-musicnn
# --------------------------------------------------------------------------

def test_fetch_from_a_wheel_then_cached(wheel, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", ["filmscore.features.cli"])
    dest = tmp_path / "musicnn"
    assert cli.main(["weights", "fetch-musicnn", "--dest", str(dest), "--wheel", str(wheel)]) == 0
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{m}.npz" for m in P.MODELS)
    net = load_network(dest / "MTT_vgg.npz", "MTT_vgg")
    assert net.output.weight.shape == (50, 256)

    def no_download(folder):
        raise AssertionError("downloaded although the weights are there")

    monkeypatch.setattr(fetch, "download_wheel", no_download)
    stamp = (dest / "MSD_musicnn.npz").stat().st_mtime_ns
    assert cli.main(["weights", "fetch-musicnn", "--dest", str(dest)]) == 0  # cached: nothing to do
    assert (dest / "MSD_musicnn.npz").stat().st_mtime_ns == stamp


def test_fetch_refuses_a_wrong_wheel_and_says_how_to_fetch_by_hand(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", ["filmscore.features.cli"])
    fake = tmp_path / P.WHEEL_NAME
    fake.write_bytes(b"PK\x03\x04 not the wheel")
    dest = tmp_path / "out"
    assert cli.main(["weights", "fetch-musicnn", "--dest", str(dest), "--wheel", str(fake)]) == 2
    assert P.WHEEL_SHA256 in capsys.readouterr().err and not dest.exists()

    def offline(*a, **k):
        return subprocess.CompletedProcess(a, 1, "", "ERROR: Could not find a version that satisfies the requirement")

    monkeypatch.setattr(fetch.subprocess, "run", offline)
    assert cli.main(["weights", "fetch-musicnn", "--dest", str(dest)]) == 2
    err = capsys.readouterr().err
    assert "pip download --no-deps musicnn==0.1.0" in err and "--wheel" in err and "other sets run" in err
    assert not dest.exists()


def test_batch_size_and_threads_do_not_change_results(weights_dir):
    import torch

    y = fx.drum_loop(5.0)
    a = model(weights_dir, batch_size=1).embed(y, SR)
    torch.set_num_threads(2)  # what the stage does with `threads` (conftest restores it)
    b = model(weights_dir, batch_size=16).embed(y, SR)
    np.testing.assert_allclose(a, b, atol=1e-5)


# --------------------------------------------------------------------------
# The feature set in the features stage
# --------------------------------------------------------------------------

@pytest.mark.slow
def test_feature_set_end_to_end_and_keyed_on_the_weights(weights_dir, tmp_path):
    import pandas as pd
    import yaml

    from filmscore.features import cache, sets
    from filmscore.features import extract as ex
    from filmscore.features.bags import read_set
    from tests.features_media import write_wav

    film = write_wav(tmp_path / "films" / "filmM.wav", np.concatenate([fx.piano_tone(6.0), fx.drum_loop(6.0)]), SR)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["features"].update(sets=["musicnn"], jobs=1, audio="film")  # cues cut from the film's own audio
    params["features"]["musicnn"].update(weights=str(weights_dir), output="taggram")
    cues = pd.DataFrame({"film_id": ["filmM"] * 2, "cue_id": ["filmM:0000", "filmM:0001"],
                         "start": [0.0, 6.0], "end": [6.0, 8.2]})  # the second cue: 2.2 s, under one patch
    statuses = ex.extract_features(params, {"filmM": film}, cues, tmp_path / "features", tmp_path / "cache")
    assert statuses["musicnn"]["status"] == "ok"
    frames, cue_level, _ = read_set(tmp_path / "features", "musicnn")
    assert frames.groupby("cue_id").size().tolist() == [6, 2]
    assert [c for c in frames.columns if c.startswith("musicnn_tag_")] == [tag_column(t) for t in P.MSD_LABELS]
    assert len(cue_level) == 2
    m = model(weights_dir, output="taggram")
    direct = m.embed(fx.piano_tone(6.0), SR)  # the film's first cue, decoded from the 16-bit file
    np.testing.assert_allclose(frames[frames["cue_id"] == "filmM:0000"][m.columns].to_numpy(), direct, atol=2e-3)
    # the weights' content is part of the cache key: the folder's files are hashed
    other = tmp_path / "w"
    other.mkdir()
    for f in Path(weights_dir).glob("*.npz"):
        (other / f.name).write_bytes(f.read_bytes())
    section = {**params["features"]["musicnn"], "weights": str(other)}
    key = cache.SetVersion.of(sets.get("musicnn"), section).digest
    with np.load(other / "MSD_musicnn.npz") as z:
        v = {k: z[k] for k in z.files}
    v["dense_1/bias"] = v["dense_1/bias"] + 1
    np.savez(other / "MSD_musicnn.npz", **v)
    assert cache.SetVersion.of(sets.get("musicnn"), section).digest != key


def test_missing_weights_skip_the_set_and_the_others_run(tmp_path):
    import pandas as pd
    import yaml

    from filmscore.features import extract as ex
    from filmscore.features.bags import read_set
    from tests.features_media import write_wav

    film = write_wav(tmp_path / "films" / "filmM.wav", fx.drum_loop(3.0), SR)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["features"].update(sets=["musicnn", "visual"], jobs=1, audio="film")
    params["features"]["musicnn"]["weights"] = str(tmp_path / "nowhere")
    cues = pd.DataFrame({"film_id": ["filmM"], "start": [0.0], "end": [3.0]})
    statuses = ex.extract_features(params, {"filmM": film}, cues, tmp_path / "features", tmp_path / "cache")
    assert statuses["musicnn"]["status"] == "skipped"
    assert "fetch-musicnn" in statuses["musicnn"]["reason"]
    assert read_set(tmp_path / "features", "musicnn")[0].empty
    assert statuses["visual"]["status"] in ("ok", "skipped")  # the other set ran (a .wav has no pictures)


# --------------------------------------------------------------------------
# Taggram importance: the tag groups
# --------------------------------------------------------------------------

def test_every_tag_of_both_taggers_has_exactly_one_group():
    from filmscore.features import groups as G

    seen = [t for tags in G._TAGS_BY_GROUP.values() for t in tags]
    assert len(seen) == len(set(seen))  # no tag in two groups
    assert set(seen) == set(P.MSD_LABELS) | set(P.MTT_LABELS)  # and none left out
    assert G.group_of(tag_column("Hip-Hop")) == "Genre" and G.group_of(tag_column("female vocalists")) == "Voice"
    assert G.group_of(tag_column("80s")) == "Era" and G.group_of(tag_column("harpsichord")) == "Instrument"
    assert G.group_of(tag_column("Mellow")) == "Mood" and G.group_of("mfcc_03_mean") == "MFCC"  # MIR unchanged
    with pytest.raises(KeyError):
        G.group_of("musicnn_017")  # penultimate units have no group
    with pytest.raises(KeyError):
        G.group_of("musicnn_tag_kazoo")
    assert [len(v) for v in G.tag_groups(P.labels("MSD_musicnn")).values()] == [30, 8, 2, 6, 4]
    assert [len(v) for v in G.tag_groups(P.labels("MTT_vgg")).values()] == [13, 6, 14, 0, 17]


def test_permutation_importance_over_tag_groups_finds_the_group_the_model_uses():
    """A synthetic 'model' reads genre 0 from the guitar tag and genre 1 from the 80s tag: the Instrument and
    Era groups matter, the others score zero (the importance stage's own machinery, on taggram columns)."""
    from filmscore.features.groups import group_of
    from filmscore.reports.importance import group_indices, permutation_importance

    cols = [tag_column(t) for t in P.MSD_LABELS]
    rng = np.random.default_rng(0)
    n = 40
    Y = np.stack([np.arange(n) % 2, (np.arange(n) // 2) % 2], axis=1)
    bags = []
    for y in Y:
        b = rng.uniform(0, 0.3, (5, len(cols)))
        b[:, cols.index(tag_column("guitar"))] += 0.6 * y[0]
        b[:, cols.index(tag_column("80s"))] += 0.6 * y[1]
        bags.append(b)

    def predict(bs):
        m = np.stack([b.mean(axis=0) for b in bs])
        return np.stack([m[:, cols.index(tag_column("guitar"))], m[:, cols.index(tag_column("80s"))]], axis=1)

    groups = group_indices(cols, group_of)
    assert sorted(groups) == sorted(["Genre", "Mood", "Instrument", "Era", "Voice"])
    res = permutation_importance(predict, bags, groups, Y, ["Action", "Drama"], n_repeats=5, seed=0)
    s = res.summary().set_index(["group", "genre"])["mean"]
    assert s[("Instrument", "Action")] > 0.5 and s[("Era", "Drama")] > 0.5
    assert s[("Genre", "Action")] == 0 and s[("Mood", "Drama")] == 0 and s[("Voice", "Action")] == 0
