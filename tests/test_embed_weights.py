"""Shared embedding machinery: missing / corrupt / unsafe weight files, the resampler, the 1 Hz grid,
devices and the params schema."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch

from filmscore.config import EMBED_SCHEMA, validate
from filmscore.errors import FilmscoreError
from filmscore.features import embedding
from filmscore.features.openl3 import OpenL3
from filmscore.features.openl3.params import DEFAULT_SECTION as OPENL3_DEFAULT
from filmscore.features.vggish import VGGish
from filmscore.features.vggish.params import DEFAULT_SECTION as VGGISH_DEFAULT
from filmscore.features.weights import (WeightsCorrupt, WeightsMissing, hash_prefix, load_array_dict,
                                        load_torch_file, read_keras_h5)


def test_missing_weights_say_where_to_get_and_put_them(tmp_path):
    missing = tmp_path / "models" / "vggish-10086976.pth"
    with pytest.raises(WeightsMissing) as e:
        VGGish.from_params({"weights": str(missing), "pca_params": str(tmp_path / "pca.pth")})
    msg = e.value.render()
    assert str(missing) in msg
    assert "https://github.com/harritaylor/torchvggish/releases/download/v0.1/" in msg
    assert "features.vggish.weights" in msg and "docs/weights.md" in msg
    assert isinstance(e.value, FilmscoreError)
    assert "convert-vggish" in e.value.reason  # the one-line reason for status.json

    # The PCA file is needed only with postprocessing.
    torch.save({"x": torch.zeros(1)}, tmp_path / "w.pth")
    with pytest.raises(WeightsMissing, match="vggish_pca_params-970ea276.pth"):
        VGGish.from_params({"weights": str(tmp_path / "w.pth"), "pca_params": str(tmp_path / "nope.pth")})
    with pytest.raises(WeightsCorrupt, match="not a VGGish state_dict") as e:  # got past the PCA check
        VGGish.from_params({"weights": str(tmp_path / "w.pth"), "pca_params": str(tmp_path / "nope.pth"),
                            "postprocess": False})
    assert "missing features.0.weight, features.0.bias" in str(e.value) and "unexpected x" in str(e.value)
    # torchvggish's whole-module state_dict carries its PCA as pproc.*: not an unexpected key.
    torch.save({"pproc.pca_matrix": torch.eye(128), "pproc.pca_means": torch.zeros(128, 1)}, tmp_path / "w2.pth")
    with pytest.raises(WeightsCorrupt) as e:
        VGGish.from_params({"weights": str(tmp_path / "w2.pth"), "postprocess": False})
    assert "missing features.0.weight" in str(e.value) and "unexpected" not in str(e.value)

    with pytest.raises(WeightsMissing) as e:
        OpenL3.from_params({"weights": str(tmp_path / "openl3.h5")})
    assert "https://github.com/marl/openl3/raw/models/openl3_audio_mel256_music-v0_4_0.h5.gz" in e.value.render()


def test_corrupt_files_are_named(tmp_path):
    good = tmp_path / "good.pth"
    torch.save({f"w{i}": torch.randn(64, 64) for i in range(8)}, good)
    data = good.read_bytes()
    cut = tmp_path / "vggish-10086976.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsCorrupt, match="truncated or corrupt") as e:
        VGGish.from_params({"weights": str(cut), "postprocess": False})
    assert str(cut) in e.value.render()

    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(WeightsCorrupt, match="empty"):
        VGGish.from_params({"weights": str(empty), "postprocess": False})
    with pytest.raises(WeightsCorrupt, match="directory"):
        VGGish.from_params({"weights": str(tmp_path), "postprocess": False})

    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all" * 100)
    with pytest.raises(WeightsCorrupt, match="not a readable HDF5"):
        read_keras_h5(junk)
    import h5py

    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(WeightsCorrupt, match="not a Keras weights file"):
        read_keras_h5(tmp_path / "plain.h5")

    bad_npz = tmp_path / "pca.npz"
    bad_npz.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(WeightsCorrupt, match="npz"):
        load_array_dict(bad_npz)


class _Payload:
    """Unpickling this runs code: it creates the file named `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_pickled_objects_are_refused_unrun(tmp_path):
    marker = tmp_path / "code_ran"
    evil = tmp_path / "vggish-10086976.pth"
    torch.save({"features.0.weight": _Payload(marker)}, evil)
    with pytest.raises(WeightsCorrupt, match="never unpickles arbitrary objects"):
        load_torch_file(evil)
    with pytest.raises(WeightsCorrupt, match="weights_only"):
        VGGish.from_params({"weights": str(evil), "postprocess": False})
    assert not marker.exists()

    obj_npz = tmp_path / "pca.npz"
    np.savez(obj_npz, pca_means=np.array([_Payload(marker)], dtype=object))
    with pytest.raises(WeightsCorrupt, match="allow_pickle=False"):
        load_array_dict(obj_npz)
    assert not marker.exists()

    # Plain numpy arrays inside a .pth (torchvggish's PCA file) are fine.
    torch.save({"a": np.arange(3.0), "b": np.ones((2, 2), np.float32)}, tmp_path / "np.pth")
    got = load_array_dict(tmp_path / "np.pth")
    assert got["a"].tolist() == [0.0, 1.0, 2.0] and got["b"].dtype == np.float32


def test_resampler_keeps_tone_and_level():
    sr_in, sr_out = 44100, 16000
    t = np.arange(sr_in) / sr_in
    y = embedding.resample(np.sin(2 * np.pi * 1000.0 * t).astype(np.float32), sr_in, sr_out)
    assert y.dtype == np.float32 and len(y) == sr_out  # 1 s in, 1 s out
    spec = np.abs(np.fft.rfft(y[2000:-2000] * np.hanning(len(y) - 4000)))
    freqs = np.fft.rfftfreq(len(y) - 4000, 1 / sr_out)
    assert abs(freqs[np.argmax(spec)] - 1000.0) < 2.0
    assert abs(np.sqrt(np.mean(y[2000:-2000] ** 2)) - np.sqrt(0.5)) < 0.01  # RMS of a unit sine
    # A 10 kHz tone is above 16 kHz's Nyquist: filtered out, not aliased to 6 kHz.
    alias = embedding.resample(np.sin(2 * np.pi * 10000.0 * t).astype(np.float32), sr_in, sr_out)
    assert np.sqrt(np.mean(alias[2000:-2000] ** 2)) < 1e-2
    same = np.arange(5, dtype=np.float32)
    assert embedding.resample(same, 16000, 16000) is not None
    np.testing.assert_array_equal(embedding.resample(same, 16000, 16000), same)


def test_one_hertz_grid():
    assert embedding.n_seconds(0, 16000) == 0
    assert embedding.n_seconds(1, 16000) == 1
    assert embedding.n_seconds(16000, 16000) == 1
    assert embedding.n_seconds(16001, 16000) == 1  # a decoder's extra sample adds no row
    assert embedding.n_seconds(3200, 16000) == 1  # 0.2 s: still one row
    assert embedding.n_seconds(int(3.3 * 44100), 44100) == 3
    assert embedding.n_seconds(int(3.5 * 44100), 44100) == 4  # half a second or more gets a row
    centres = np.array([0.4875, 1.4475, 2.4075])
    values = 100.0 * (centres - 0.4875)[:, None] * np.ones((1, 2))  # linear in time: 0, 96, 192
    got = embedding.to_seconds(values, centres, 4)
    # t = 0.5, 1.5, 2.5, 3.5: 100 (t - 0.4875) inside, the last example beyond the last centre
    np.testing.assert_allclose(got[:, 0], [1.25, 101.25, 192.0, 192.0], rtol=1e-6)
    np.testing.assert_allclose(embedding.to_seconds(values[:1], centres[:1], 3), np.zeros((3, 2)))


def test_devices():
    assert embedding.resolve_device("auto", "features.vggish.device").type in ("cpu", "cuda")
    assert embedding.resolve_device("cpu", "features.vggish.device").type == "cpu"
    with pytest.raises(FilmscoreError, match="features.openl3.device"):
        embedding.resolve_device("tpu7", "features.openl3.device")
    if not torch.cuda.is_available():
        with pytest.raises(FilmscoreError, match="set it to cpu or auto"):
            embedding.resolve_device("cuda", "features.vggish.device")


def test_schema_and_defaults():
    schema = {"features": EMBED_SCHEMA}
    from filmscore.features.musicnn.params import DEFAULT_SECTION as MUSICNN_DEFAULT

    assert validate({"features": {"vggish": dict(VGGISH_DEFAULT), "openl3": dict(OPENL3_DEFAULT),
                                  "musicnn": dict(MUSICNN_DEFAULT)}}, schema=schema) == []
    probs = validate({"features": {"vggish": {**VGGISH_DEFAULT, "batchsize": 8}, "openl3": {**OPENL3_DEFAULT,
                      "embedding_size": 128, "input_repr": "mel265"},
                      "musicnn": {**MUSICNN_DEFAULT, "model": "MSD_vggish"}}}, schema=schema)
    text = "\n".join(map(str, probs))
    assert "features.vggish.batchsize: unknown key" in text and "batch_size" in text
    assert "features.openl3.embedding_size" in text and "mel256" in text
    assert "features.musicnn.model" in text and "MSD_vgg" in text
    assert hash_prefix("models/vggish-10086976.pth") == "10086976"
    assert hash_prefix("models/openl3_audio_mel256_music.h5") is None


def test_the_weight_readers_import_no_embedder_and_the_command_lives_with_the_others():
    """No import circle: vggish/openl3 import the readers; the readers import neither (nor the command)."""
    from filmscore import cli
    from filmscore.provenance import import_closure

    readers = import_closure("filmscore.features.weights")
    assert not [m for m in readers if ".vggish" in m or ".openl3" in m or m.endswith(".cli")]
    assert "filmscore.features.weights" in import_closure("filmscore.features.vggish")
    assert "filmscore.features.cli" in cli.COMMANDS and "filmscore.features.weights" not in cli.COMMANDS
