"""Seeded weights and inputs for the VGGish / OpenL3 tests (numpy only).

The same functions feed `tests/data/make_embed_reference.py`, which ran them
through TensorFlow / Keras (tensorflow-cpu 2.15, in a separate environment) to
record the reference outputs in `tests/data/embed_reference.npz`. The tests
rebuild the weights from the seeds, load them through filmscore's loaders from
files in the published layouts, and compare against those outputs.
"""

from __future__ import annotations

import numpy as np

# vggish_slim's variables: scope, TF shape (conv HWIO, dense (in, out)).
VGGISH_TF_LAYERS = [
    ("conv1", (3, 3, 1, 64)),
    ("conv2", (3, 3, 64, 128)),
    ("conv3/conv3_1", (3, 3, 128, 256)),
    ("conv3/conv3_2", (3, 3, 256, 256)),
    ("conv4/conv4_1", (3, 3, 256, 512)),
    ("conv4/conv4_2", (3, 3, 512, 512)),
    ("fc1/fc1_1", (12288, 4096)),
    ("fc1/fc1_2", (4096, 4096)),
    ("fc2", (4096, 128)),
]

# OpenL3 mel256 audio network: the Keras layers holding weights, in model order.
OPENL3_FILTERS = [64, 64, 128, 128, 256, 256, 512, 512]


def vggish_tf_variables(seed: int = 0) -> dict[str, np.ndarray]:
    """He-scaled random weights in the TF checkpoint's names and layout."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in VGGISH_TF_LAYERS:
        fan_in = int(np.prod(shape[:-1]))
        w = rng.standard_normal(shape, dtype=np.float32)
        w *= np.float32(np.sqrt(2.0 / fan_in))
        out[f"vggish/{name}/weights"] = w
        out[f"vggish/{name}/biases"] = rng.standard_normal(shape[-1], dtype=np.float32) * np.float32(0.05)
    return out


def vggish_examples(seed: int = 1, n: int = 3) -> np.ndarray:
    """(n, 96, 64) log-mel-like inputs."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 96, 64), dtype=np.float32) * 2 - 3).astype(np.float32)


def openl3_keras_weights(seed: int = 2) -> list[tuple[str, list[np.ndarray]]]:
    """[(kind, Keras get_weights() list)] in model order: BN, then (conv, BN) x 7, then the embedding conv.

    conv: [kernel (3, 3, in, out), bias]; BN: [gamma, beta, moving_mean, moving_variance].
    """
    rng = np.random.default_rng(seed)

    def bn(c):
        return ("bn", [rng.uniform(0.5, 1.5, c).astype("f4"), rng.normal(0, 0.1, c).astype("f4"),
                       rng.normal(0, 0.2, c).astype("f4"), rng.uniform(0.5, 2.0, c).astype("f4")])

    layers = [bn(1)]
    c_in = 1
    for i, c_out in enumerate(OPENL3_FILTERS):
        k = rng.standard_normal((3, 3, c_in, c_out), dtype=np.float32) * np.float32(np.sqrt(2.0 / (9 * c_in)))
        layers.append(("conv", [k, rng.normal(0, 0.05, c_out).astype("f4")]))
        if i < len(OPENL3_FILTERS) - 1:
            layers.append(bn(c_out))
        c_in = c_out
    return layers


def openl3_spectrograms(seed: int = 3, n: int = 2, n_mels: int = 256) -> np.ndarray:
    """(n, n_mels, 199) dB-spectrogram-like inputs in kapre's range [-80, 0]."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(-30, 15, (n, n_mels, 199)), -80, 0).astype(np.float32)


def write_keras_h5(path, layers, spectrogram_layer: bool = True, whole_model: bool = False) -> None:
    """Write `layers` (from openl3_keras_weights) as Keras 2 HDF5 weights, with openl3 0.3's layer naming.

    Layout as Keras 2 `save_weights`: root attribute `layer_names` (every layer,
    with and without weights), one group per layer with attribute `weight_names`,
    datasets at <layer>/<layer>/<weight>:0. With `spectrogram_layer` the kapre
    Melspectrogram layer of openl3 <= 0.3 files comes first, with its fixed DFT kernels;
    `whole_model` nests everything under `model_weights` as `model.save` does.
    """
    import h5py

    counts: dict[str, int] = {}

    def auto(base):
        counts[base] = counts.get(base, 0) + 1
        return f"{base}_{counts[base]}"

    entries = [(auto("input"), [])]
    if spectrogram_layer:
        entries.append((auto("melspectrogram"), [("real_kernels", np.zeros((2048, 1, 1, 1025), "f4")),
                                                 ("imag_kernels", np.zeros((2048, 1, 1, 1025), "f4")),
                                                 ("Variable", np.zeros((1025, 256), "f4"))]))
    n_conv = sum(1 for kind, _ in layers if kind == "conv")
    seen_conv = 0
    for kind, ws in layers:
        if kind == "bn":
            entries.append((auto("batch_normalization"), list(zip(("gamma", "beta", "moving_mean", "moving_variance"), ws))))
            if seen_conv:
                entries.append((auto("activation"), []))
                if seen_conv in (2, 4, 6):
                    entries.append((auto("max_pooling2d"), []))
        else:
            seen_conv += 1
            name = "audio_embedding_layer" if seen_conv == n_conv else auto("conv2d")
            entries.append((name, list(zip(("kernel", "bias"), ws))))
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if whole_model else f
        root.attrs["layer_names"] = [n.encode() for n, _ in entries]
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.0.9"
        for name, ws in entries:
            g = root.create_group(name)
            g.attrs["weight_names"] = [f"{name}/{w}:0".encode() for w, _ in ws]
            for w, a in ws:
                g.create_dataset(f"{name}/{w}:0", data=a)
