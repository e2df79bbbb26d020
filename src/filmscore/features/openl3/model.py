"""OpenL3 embeddings at 1 Hz: what the features stage calls.

    model = OpenL3.from_params(params["features"]["openl3"])   # WeightsMissing if the file is absent
    emb = model.embed(audio, sr)                                # (n_seconds, 512) float32

Row i is the embedding of the 1 s window covering seconds [i, i+1) of the
input (hop 1 s, no centring: openl3's `center=False, hop_size=1`); a final
partial second of at least 0.5 s is zero-padded to a whole window (a shorter
one is dropped: see filmscore.features.embedding.n_seconds). OpenL3's windows are 1 s
long, so no interpolation is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..embedding import as_mono, resample, resolve_device, run_batches
from ..embedding import n_seconds as _n_seconds
from ..weights import require_file
from . import frontend
from . import params as P
from .network import load_network


class OpenL3:
    """OpenL3 audio embedding (music content, mel-spectrogram input) from the official Keras weights."""

    name = "openl3"
    sample_rate = P.SAMPLE_RATE

    def __init__(self, net, device, batch_size: int, weights_path: Path):
        self.net = net
        self.device = device
        self.batch_size = int(batch_size)
        self.weights_path = Path(weights_path)
        self.n_mels = P.N_MELS[net.input_repr]

    @classmethod
    def from_params(cls, section: dict) -> "OpenL3":
        """Build from params.yaml: features.openl3 (keys: filmscore.config.EMBED_SCHEMA['openl3']).

        Raises WeightsMissing when the .h5 is absent, WeightsCorrupt when it is unusable.
        """
        s = {**P.DEFAULT_SECTION, **(section or {})}
        repr_ = s["input_repr"]
        weights = require_file(s["weights"], "OpenL3", P.get_weights(repr_), "features.openl3.weights")
        device = resolve_device(s["device"], "features.openl3.device")
        net = load_network(weights, repr_, int(s["embedding_size"])).to(device)
        return cls(net, device, int(s["batch_size"]), weights)

    @property
    def dim(self) -> int:
        return self.net.embedding_size

    @property
    def columns(self) -> list[str]:
        return [f"openl3_{i:03d}" for i in range(self.dim)]

    def files(self) -> list[Path]:
        return [self.weights_path]

    def describe(self) -> str:
        return f"OpenL3 audio {self.net.input_repr}, {self.dim}-d, device {self.device}"

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """(k, 48000) one-second windows at 48 kHz -> (k, dim) float32 embeddings."""
        out = []
        for i in range(0, len(windows), self.batch_size):
            spec = frontend.melspectrogram_db(windows[i:i + self.batch_size], self.n_mels)
            out.append(run_batches(self.net, spec[:, None], self.batch_size, self.device))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(out, axis=0).astype(np.float32)

    def embed(self, audio: np.ndarray, sr: int, n_seconds: int | None = None) -> np.ndarray:
        """Mono audio (any rate; 48 kHz skips resampling) -> (n_seconds, dim) float32 at 1 Hz.

        `n_seconds` defaults to the duration rounded to whole seconds, at least 1
        (filmscore.features.embedding.n_seconds);
        pass it to match a frame grid of your own (the audio is padded or cut).
        """
        audio = np.asarray(audio)
        n = _n_seconds(audio.shape[0], sr) if n_seconds is None else int(n_seconds)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        x = resample(as_mono(audio), sr, P.SAMPLE_RATE)
        return self.embed_windows(frontend.one_second_windows(x, n))
