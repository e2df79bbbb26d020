"""VGGish embeddings at 1 Hz: what the features stage calls.

    model = VGGish.from_params(params["features"]["vggish"])   # WeightsMissing if a file is absent
    emb = model.embed(audio, sr)                                # (n_seconds, 128) float32

Resampling to 1 Hz: VGGish gives one embedding per 0.96 s example (example k
covers [0.96 k, 0.96 k + 0.975) s, centre 0.96 k + 0.4875 s). Row i of the
output (seconds [i, i+1)) is the linear interpolation of the example
embeddings at the centre of second i, i + 0.5 s; before the first or after the
last example centre the nearest example is used. With `postprocess` the
interpolated values are those of the 8-bit released embeddings (0..255), so
they need not be integers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..embedding import n_seconds as _n_seconds
from ..embedding import resolve_device, run_batches, to_seconds
from ..weights import require_file
from . import frontend
from . import params as P
from .network import load_network
from .postprocess import Postprocessor


class VGGish:
    """The published VGGish (TF release or torchvggish weights), optionally with the PCA/quantisation postprocessing."""

    name = "vggish"
    sample_rate = P.SAMPLE_RATE

    def __init__(self, net, postprocessor: Postprocessor | None, device, batch_size: int,
                 weights_path: Path, pca_path: Path | None):
        self.net = net
        self.postprocessor = postprocessor
        self.device = device
        self.batch_size = int(batch_size)
        self.weights_path = Path(weights_path)
        self.pca_path = Path(pca_path) if pca_path else None

    @classmethod
    def from_params(cls, section: dict) -> "VGGish":
        """Build from params.yaml: features.vggish (keys: filmscore.config.EMBED_SCHEMA['vggish']).

        Raises WeightsMissing when the weight file (or, with postprocess, the PCA
        file) is absent, WeightsCorrupt when one is unusable.
        """
        s = {**P.DEFAULT_SECTION, **(section or {})}
        weights = require_file(s["weights"], "VGGish", P.GET_WEIGHTS, "features.vggish.weights")
        pca = require_file(s["pca_params"], "VGGish PCA", P.GET_PCA, "features.vggish.pca_params") if s["postprocess"] else None
        device = resolve_device(s["device"], "features.vggish.device")
        net = load_network(weights).to(device)
        pp = Postprocessor.load(pca) if pca else None
        return cls(net, pp, device, int(s["batch_size"]), weights, pca)

    @property
    def dim(self) -> int:
        return P.EMBEDDING_SIZE

    @property
    def columns(self) -> list[str]:
        return [f"vggish_{i:03d}" for i in range(self.dim)]

    def files(self) -> list[Path]:
        return [self.weights_path] + ([self.pca_path] if self.pca_path else [])

    def describe(self) -> str:
        post = "PCA + 8-bit postprocessing" if self.postprocessor else "raw 128-d (no postprocessing)"
        return f"VGGish, {post}, device {self.device}"

    def embed_examples(self, examples: np.ndarray) -> np.ndarray:
        """(k, 96, 64) log-mel examples -> (k, 128) float32 embeddings (postprocessed if configured)."""
        if len(examples) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        raw = run_batches(self.net, examples[:, None], self.batch_size, self.device)
        if self.postprocessor is None:
            return raw.astype(np.float32)
        return self.postprocessor(raw).astype(np.float32)

    def embed(self, audio: np.ndarray, sr: int, n_seconds: int | None = None) -> np.ndarray:
        """Mono audio (any rate; 16 kHz skips resampling) -> (n_seconds, 128) float32 at 1 Hz.

        `n_seconds` defaults to the duration rounded to whole seconds, at least 1
        (filmscore.features.embedding.n_seconds);
        pass it to match a frame grid of your own.
        """
        audio = np.asarray(audio)
        n = _n_seconds(audio.shape[0], sr) if n_seconds is None else int(n_seconds)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if audio.shape[0] == 0:
            audio = np.zeros(1, dtype=np.float32)  # asked for rows of nothing: silence, padded to one example
        ex = frontend.waveform_to_examples(audio, sr)
        emb = self.embed_examples(ex)
        return to_seconds(emb, frontend.example_centres(len(emb)), n)
