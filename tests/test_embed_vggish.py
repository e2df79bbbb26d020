"""VGGish port: frontend vs librosa + the reference mel matrix, postprocessing on hand-computed values,
the network vs TensorFlow's own output, loading the published file layouts, the TF conversion command."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import embed_fixtures as fx  # noqa: E402

from filmscore import cli  # noqa: E402
from filmscore.features.vggish import VGGish, frontend  # noqa: E402
from filmscore.features.vggish.convert import tf_to_torch  # noqa: E402
from filmscore.features.vggish.postprocess import Postprocessor  # noqa: E402
from filmscore.features.weights import WeightsCorrupt  # noqa: E402

REFERENCE = Path(__file__).parent / "data" / "embed_reference.npz"
SR = 16000


def _chirp_noise(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    chirp = np.sin(2 * np.pi * (200 * t + 1500 * t ** 2))
    return (0.5 * chirp + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def _reference_mel_matrix(librosa) -> np.ndarray:
    """The reference mel_features.py filterbank, built independently: band edges from librosa's HTK
    mel_frequencies, triangles linear on the mel scale (np.interp), DC bin zeroed."""
    edges_mel = librosa.hz_to_mel(librosa.mel_frequencies(66, fmin=125.0, fmax=7500.0, htk=True), htk=True)
    bins_mel = librosa.hz_to_mel(np.linspace(0, SR / 2, 257), htk=True)
    w = np.stack([np.interp(bins_mel, edges_mel[i:i + 3], [0.0, 1.0, 0.0]) for i in range(64)], axis=1)
    w[0] = 0.0
    return w


def test_frontend_matches_librosa_stft_and_reference_mel():
    librosa = pytest.importorskip("librosa")
    x = _chirp_noise(2.5)
    mine = frontend.log_mel_spectrogram(x)
    # librosa centres the 400-sample window in each 512-sample frame: 56 zeros on each side
    # line its frames up with the reference's (400 samples, zero-padded to 512 at the end).
    mag = np.abs(librosa.stft(np.pad(x.astype(np.float64), 56), n_fft=512, hop_length=160, win_length=400,
                              window="hann", center=False))
    expected = np.log(mag.T @ _reference_mel_matrix(librosa) + 0.01)
    assert mine.shape == expected.shape == (1 + (len(x) - 400) // 160, 64)
    np.testing.assert_allclose(mine, expected, atol=1e-6)

    ex = frontend.waveform_to_examples(x, SR)
    assert ex.shape == (2, 96, 64) and ex.dtype == np.float32  # 248 frames: 2 whole examples, the rest dropped
    np.testing.assert_allclose(ex[1], expected[96:192], atol=1e-5)


def test_tone_lands_in_its_band_at_any_sample_rate():
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731 - HTK mel, by hand
    centres_hz = 700.0 * (np.exp(np.linspace(mel(125.0), mel(7500.0), 66)[1:-1] / 1127.0) - 1.0)
    want = int(np.argmin(np.abs(centres_hz - 1000.0)))
    peaks = []
    for sr in (16000, 44100, 8000):
        t = np.arange(int(2.0 * sr)) / sr
        ex = frontend.waveform_to_examples(0.5 * np.sin(2 * np.pi * 1000.0 * t), sr)
        band = ex.mean(axis=(0, 1))
        assert int(np.argmax(band)) == want, sr
        peaks.append(band.max())
    assert abs(peaks[1] - peaks[0]) < 0.01  # resampled from 44.1 kHz: same level as native 16 kHz


def test_silence_and_short_input():
    ex = frontend.waveform_to_examples(np.zeros(8000, np.float32), SR)  # 0.5 s: padded to one example
    assert ex.shape == (1, 96, 64)
    np.testing.assert_allclose(ex, np.log(0.01), rtol=0, atol=1e-6)
    assert frontend.waveform_to_examples(np.zeros(0, np.float32), SR).shape == (0, 96, 64)


def test_postprocess_on_hand_computed_values(tmp_path):
    e = 2.0 * np.eye(128)
    e[0] = 0.0
    e[0, 1] = 1.0  # output 0 reads input 1: checks E @ (x - mu), not its transpose
    means = np.full(128, 0.5)
    x = np.full((1, 128), 0.5)
    x[0, 1:9] = [-1.0, -0.5, 0.0, 0.5, 0.75, 1.495, 1.5, 3.0]  # pca = 2 (x - 0.5) for outputs 1..8
    # pca: output 0 = x1 - 0.5 = -1.5; outputs 1..8: -3, -2, -1, 0, 0.5, 1.99, 2, 5
    # quantised: floor((clip(p, -2, 2) + 2) * 255 / 4)
    want = [31, 0, 0, 63, 127, 159, 254, 255, 255]
    pp = Postprocessor(e, means)
    got = pp(x)
    assert got.dtype == np.uint8
    assert got[0, :9].tolist() == want
    assert got[0, 9:].tolist() == [127] * 119  # pca 0 -> 127.5 truncated

    # The two published PCA layouts load to the same transform.
    np.savez(tmp_path / "vggish_pca_params.npz", pca_eigen_vectors=e, pca_means=means)  # TF release
    torch.save({"pca_eigen_vectors": e, "pca_means": means.reshape(-1, 1)}, tmp_path / "pca.pth")  # numpy in a .pth
    for f in ("vggish_pca_params.npz", "pca.pth"):
        assert Postprocessor.load(tmp_path / f)(x).tolist() == got.tolist()
    np.savez(tmp_path / "other.npz", means=means)
    with pytest.raises(WeightsCorrupt, match="not a VGGish PCA file"):
        Postprocessor.load(tmp_path / "other.npz")


# --------------------------------------------------------------------------
# The network against TensorFlow, from files in the published layouts
# --------------------------------------------------------------------------

TORCHVGGISH_KEYS = {  # torchvggish's VGG: features (conv, ReLU, pool ...) and embeddings (Linear, ReLU ...)
    "conv1": "features.0", "conv2": "features.3", "conv3/conv3_1": "features.6", "conv3/conv3_2": "features.8",
    "conv4/conv4_1": "features.11", "conv4/conv4_2": "features.13",
    "fc1/fc1_1": "embeddings.0", "fc1/fc1_2": "embeddings.2", "fc2": "embeddings.4",
}


@pytest.fixture(scope="module")
def tf_vars():
    return fx.vggish_tf_variables()


@pytest.fixture(scope="module")
def torchvggish_state(tf_vars):
    """A state_dict as torchvggish's conversion notebook builds it (conv HWIO -> OIHW, dense transposed)."""
    sd = {}
    for scope, name in TORCHVGGISH_KEYS.items():
        w = tf_vars[f"vggish/{scope}/weights"]
        w = w.transpose(3, 2, 0, 1) if w.ndim == 4 else w.T
        sd[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(w))
        sd[f"{name}.bias"] = torch.from_numpy(tf_vars[f"vggish/{scope}/biases"])
    return sd


@pytest.fixture(scope="module")
def vggish_files(tmp_path_factory, torchvggish_state):
    d = tmp_path_factory.mktemp("vggish")
    torch.save(torchvggish_state, d / "vggish-10086976.pth")
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((128, 128)))
    np.savez(d / "vggish_pca_params.npz", pca_eigen_vectors=q / 10.0, pca_means=rng.normal(0, 1, 128))
    return d


def test_network_matches_tensorflow(vggish_files):
    ref = np.load(REFERENCE)["vggish_tf"]
    model = VGGish.from_params({"weights": str(vggish_files / "vggish-10086976.pth"), "postprocess": False})
    got = model.embed_examples(fx.vggish_examples())
    assert got.shape == (3, 128)
    # TF's embedding layer is linear: negative components survive (torchvggish's port would zero them).
    assert (ref < 0).any()
    np.testing.assert_allclose(got, ref, atol=2e-3 * np.abs(ref).max())


def test_embed_at_1hz_with_postprocessing(vggish_files):
    model = VGGish.from_params({"weights": str(vggish_files / "vggish-10086976.pth"),
                                "pca_params": str(vggish_files / "vggish_pca_params.npz"), "device": "cpu"})
    audio = _chirp_noise(3.6, sr=22050)
    emb = model.embed(audio, 22050)
    assert emb.shape == (4, 128) and emb.dtype == np.float32  # 3.6 s: 4 rows
    assert emb.min() >= 0 and emb.max() <= 255
    # Row i is the interpolation of the example embeddings at i + 0.5 s.
    per_example = model.embed_examples(frontend.waveform_to_examples(audio, 22050))
    assert per_example.shape == (3, 128)  # 3.6 s holds three whole 0.96 s examples (2.88 s + 0.015 s)
    c = frontend.example_centres(3)  # 0.4875, 1.4475, 2.4075
    w0 = (0.5 - c[0]) / (c[1] - c[0])  # second 0's centre lies between examples 0 and 1
    w1 = (1.5 - c[1]) / (c[2] - c[1])  # second 1's between examples 1 and 2
    np.testing.assert_allclose(emb[0], (1 - w0) * per_example[0] + w0 * per_example[1], rtol=1e-5)
    np.testing.assert_allclose(emb[1], (1 - w1) * per_example[1] + w1 * per_example[2], rtol=1e-5)
    np.testing.assert_allclose(emb[3], per_example[2])  # past the last centre: the last example
    assert model.embed(audio, 22050, n_seconds=6).shape == (6, 128)
    assert model.embed(np.zeros(0, np.float32), 22050).shape == (0, 128)


def test_convert_command_from_npz_dump(tmp_path, tf_vars, torchvggish_state, capsys, monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", ["filmscore.features.cli"])  # this command alone
    dump = tmp_path / "vggish_model.npz"
    np.savez(dump, **tf_vars, **{"global_step": np.array(1)})  # a checkpoint holds other variables too
    out = tmp_path / "vggish_tf.pth"
    assert cli.main(["weights", "convert-vggish", str(dump), str(out)]) == 0
    got = torch.load(out, weights_only=True)
    assert set(got) == set(torchvggish_state)
    for k, v in torchvggish_state.items():
        assert torch.equal(got[k], v), k
    assert cli.main(["weights", "convert-vggish", str(dump), str(out)]) == 2  # never overwrites unasked
    assert "--force" in capsys.readouterr().err


def test_conversion_names_missing_variables(tf_vars):
    v = dict(tf_vars)
    del v["vggish/conv4/conv4_2/biases"]
    v["vggish/fc2/weights"] = v["vggish/fc2/weights"][:, :64]
    with pytest.raises(WeightsCorrupt, match="conv4/conv4_2/biases"):
        tf_to_torch(v, source="vggish_model.ckpt")
    v["vggish/conv4/conv4_2/biases:0"] = np.zeros(512, np.float32)  # ':0' suffixes are accepted
    with pytest.raises(WeightsCorrupt, match=r"embeddings.4.weight \(64, 4096\)"):
        tf_to_torch(v, source="vggish_model.ckpt")


def test_checkpoint_without_tensorflow_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", ["filmscore.features.cli"])
    try:
        import tensorflow  # noqa: F401
        pytest.skip("tensorflow is installed here")
    except ImportError:
        pass
    ckpt = tmp_path / "vggish_model.ckpt"
    ckpt.write_bytes(b"\0" * 64)
    assert cli.main(["weights", "convert-vggish", str(ckpt), str(tmp_path / "o.pth")]) == 2
    err = capsys.readouterr().err
    assert "pip install tensorflow-cpu" in err and str(ckpt) in err
    assert not (tmp_path / "o.pth").exists()
