"""OpenL3 port: kapre-style frontend vs librosa, the network vs Keras's own output from official-layout
.h5 files, a known convolution by hand (scipy), 1 Hz windows, and bad weight files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import embed_fixtures as fx  # noqa: E402

from filmscore import cli  # noqa: E402
from filmscore.features.openl3 import OpenL3, frontend  # noqa: E402
from filmscore.features.weights import WeightsCorrupt, WeightsMissing  # noqa: E402

REFERENCE = Path(__file__).parent / "data" / "embed_reference.npz"
SR = 48000


def _window(seed: int = 0) -> np.ndarray:
    t = np.arange(SR) / SR
    rng = np.random.default_rng(seed)
    return (0.4 * np.sin(2 * np.pi * 440 * t) * np.exp(-2 * t) + 0.02 * rng.standard_normal(SR)).astype(np.float32)


# 256 HTK bands from 0 Hz: the lowest are narrower than an FFT bin and empty, as in the real model.
@pytest.mark.filterwarnings("ignore:Empty filters")
def test_frontend_matches_librosa():
    librosa = pytest.importorskip("librosa")
    w = _window()
    # kapre's 'same' padding is TensorFlow's: ceil(48000 / 242) = 199 frames,
    # (199 - 1) * 242 + 2048 - 48000 = 1964 samples, 982 before and 982 after.
    frames = np.abs(librosa.stft(np.pad(w.astype(np.float64), (982, 982)), n_fft=2048, hop_length=242,
                                 window="hann", center=False)) ** 2
    for n_mels in (256, 128):
        bank = librosa.filters.mel(sr=SR, n_fft=2048, n_mels=n_mels, fmin=0.0, fmax=SR / 2, htk=True, norm="slaney")
        np.testing.assert_allclose(frontend.mel_filterbank(n_mels), bank, rtol=1e-6, atol=1e-9)
        expected = librosa.power_to_db(np.sqrt(bank @ frames), ref=np.max, amin=1e-10, top_db=80.0)
        got = frontend.melspectrogram_db(w[None], n_mels)
        assert got.shape == (1, n_mels, 199) and got.dtype == np.float32
        np.testing.assert_allclose(got[0], expected, atol=2e-3)


def test_frontend_known_signals():
    t = np.arange(SR) / SR
    db = frontend.melspectrogram_db(np.sin(2 * np.pi * 1000.0 * t)[None], 256)[0]
    assert db.max() == 0.0 and db.min() >= -80.0
    # HTK mel band centres, by hand: 256 bands between 0 Hz and 24 kHz.
    mel_max = 2595.0 * np.log10(1.0 + 24000.0 / 700.0)
    centres = 700.0 * (10 ** (np.linspace(0.0, mel_max, 258)[1:-1] / 2595.0) - 1.0)
    peak = int(np.argmax(db[:, 100]))
    assert abs(centres[peak] - 1000.0) < 25.0  # within one band / FFT bin of the tone
    # Silence: 10 log10(1e-10) everywhere, minus its maximum: all 0 dB.
    np.testing.assert_array_equal(frontend.melspectrogram_db(np.zeros((1, SR)), 256), 0.0)


# --------------------------------------------------------------------------
# The network from .h5 files in the official Keras layout, against Keras
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras_layers():
    return fx.openl3_keras_weights()


@pytest.fixture(scope="module")
def h5_v03(tmp_path_factory, keras_layers):
    """An openl3 <= 0.3 style file: kapre's spectrogram layer first, Keras 2.0 auto names."""
    p = tmp_path_factory.mktemp("openl3") / "openl3_audio_mel256_music.h5"
    fx.write_keras_h5(p, keras_layers, spectrogram_layer=True)
    return p


def test_network_matches_keras(h5_v03, tmp_path, keras_layers):
    ref = np.load(REFERENCE)
    spec = torch.from_numpy(fx.openl3_spectrograms())
    model = OpenL3.from_params({"weights": str(h5_v03)})
    assert model.dim == 512 and len(model.columns) == 512
    with torch.no_grad():
        got = model.net(spec).numpy()
    np.testing.assert_allclose(got, ref["openl3_512"], atol=1e-5 * np.abs(ref["openl3_512"]).max() + 1e-3)

    # openl3 0.4 style (no spectrogram layer), saved as a whole model, 6144-d head.
    v04 = tmp_path / "openl3_audio_mel256_music.h5"
    fx.write_keras_h5(v04, keras_layers, spectrogram_layer=False, whole_model=True)
    big = OpenL3.from_params({"weights": str(v04), "embedding_size": 6144})
    with torch.no_grad():
        got = big.net(spec).numpy()
    assert got.shape == (2, 6144)
    np.testing.assert_allclose(got, ref["openl3_6144"], atol=1e-5 * np.abs(ref["openl3_6144"]).max() + 1e-3)


def test_first_convolution_by_hand(h5_v03, keras_layers):
    from scipy.signal import correlate2d

    model = OpenL3.from_params({"weights": str(h5_v03)})
    x = fx.openl3_spectrograms(n=1)[0].astype(np.float64)
    gamma, beta, mean, var = keras_layers[0][1]
    bn = (x - mean[0]) / np.sqrt(var[0] + 1e-3) * gamma[0] + beta[0]  # Keras BatchNormalization, epsilon 1e-3
    kernel, bias = keras_layers[1][1]  # (3, 3, 1, 64): rows run over mel bands, columns over time
    c = 37
    expected = correlate2d(bn, kernel[:, :, 0, c], mode="same") + bias[c]  # Keras Conv2D is a correlation
    with torch.no_grad():
        got = model.net.convs[0](model.net.input_bn(torch.from_numpy(x[None, None].astype(np.float32))))[0, c]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-4)


def test_embed_one_row_per_second(h5_v03):
    model = OpenL3.from_params({"weights": str(h5_v03), "batch_size": 2})
    t = np.arange(int(2.5 * SR)) / SR
    audio = np.where(t >= 1.0, 0.3 * np.sin(2 * np.pi * 660 * t), 0.0).astype(np.float32)  # silent first second
    emb = model.embed(audio, SR)
    assert emb.shape == (3, 512) and emb.dtype == np.float32
    with torch.no_grad():
        silent = model.net(torch.zeros(1, 1, 256, 199)).numpy()[0]  # silence -> an all-0 dB spectrogram
    np.testing.assert_allclose(emb[0], silent, rtol=1e-5, atol=1e-5)
    assert not np.allclose(emb[1], silent)
    expected_row1 = model.embed_windows(audio[SR:2 * SR][None])[0]
    np.testing.assert_allclose(emb[1], expected_row1, rtol=1e-5, atol=1e-5)
    padded = model.embed(audio, SR, n_seconds=4)
    assert padded.shape == (4, 512)
    np.testing.assert_allclose(padded[3], silent, rtol=1e-5, atol=1e-5)  # past the end: a zero window


def test_bad_openl3_files(tmp_path, keras_layers, h5_v03):
    with pytest.raises(WeightsMissing) as e:
        OpenL3.from_params({"weights": str(tmp_path / "models" / "openl3_audio_mel256_music.h5")})
    assert "openl3_audio_mel256_music" in e.value.reason and "docs/weights.md" in e.value.reason

    mel128 = tmp_path / "openl3_audio_mel128_music.h5"
    mel128.write_bytes(h5_v03.read_bytes())
    with pytest.raises(WeightsCorrupt, match="input_repr: mel128"):
        OpenL3.from_params({"weights": str(mel128), "input_repr": "mel256"})

    short = tmp_path / "short.h5"
    fx.write_keras_h5(short, keras_layers[:-1])
    with pytest.raises(WeightsCorrupt, match="15 layers with weights"):
        OpenL3.from_params({"weights": str(short)})

    swapped = list(keras_layers)
    swapped[1], swapped[2] = swapped[2], swapped[1]  # a BN where a conv belongs
    odd = tmp_path / "odd.h5"
    fx.write_keras_h5(odd, swapped)
    with pytest.raises(WeightsCorrupt, match="expected a Conv2D"):
        OpenL3.from_params({"weights": str(odd)})

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(h5_v03.read_bytes()[: 3_000_000])
    with pytest.raises(WeightsCorrupt) as e:
        OpenL3.from_params({"weights": str(truncated)})
    assert str(truncated) in e.value.render()


def test_weights_check_command(h5_v03, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", ["filmscore.features.cli"])
    rc = cli.main(["weights", "check", "--params", str(tmp_path / "none.yaml"), "--openl3", str(h5_v03),
                   "--vggish", str(tmp_path / "vggish-10086976.pth")])
    out = capsys.readouterr().out
    assert rc == 1  # VGGish missing
    assert "vggish: MISSING" in out and "vggish-10086976.pth" in out
    assert f"openl3: OK  {h5_v03}  sha256 " in out and "embeds 3 x 512" in out
