"""musicnn embeddings and taggrams at 1 Hz: what the features stage calls.

    model = Musicnn.from_params(params["features"]["musicnn"])  # WeightsMissing if the .npz is absent
    values = model.embed(audio, sr)                              # (n_seconds, dim) float32

Row i (seconds [i, i+1) of the audio) is the network's output for the 3 s
patch centred on i + 0.5 s (`frontend.patch_starts`; moved inside the audio
at its ends, so the first and last rows of a cue see its first and last 3 s);
audio shorter than one patch is repeated to fill it (`frontend.repeat_pad`).
`output` chooses the columns: `penultimate` (musicnn: the 200-unit layer,
`musicnn_000..199`; VGG: the 256 flattened pool5 values), `taggram` (the 50
tag probabilities, `musicnn_tag_<tag>`, tags of params.labels(model)) or
`both` (penultimate, then taggram).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..embedding import n_seconds as _n_seconds
from ..embedding import resolve_device, run_batches
from ..weights import WeightsCorrupt, WeightsMissing
from . import frontend
from . import params as P
from .network import MusicnnNet, load_network, vgg_out_size
from .params import PREFIX, tag_column


def weights_file(folder: str | Path, model: str) -> Path:
    """Where `filmscore weights fetch-musicnn` writes a model: <folder>/<model>.npz."""
    return Path(folder).expanduser() / f"{model}.npz"


def penultimate_size(model: str) -> int:
    """Columns of the penultimate output: musicnn's 200 units, or VGG's pool5 (2 x 1 x 128 = 256)."""
    if P.MODELS[model] == "musicnn":
        return P.MUSICNN_BACKEND_UNITS
    h, w = vgg_out_size()
    return h * w * P.VGG_FILTERS


class Musicnn:
    """One of the four musicnn 0.1.0 taggers, giving its penultimate layer and/or its taggram at 1 Hz."""

    name = "musicnn"
    sample_rate = P.SAMPLE_RATE

    def __init__(self, net, model: str, output: str, device, batch_size: int, weights_path: Path):
        if output not in P.OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(P.OUTPUTS)}, got {output!r}")
        self.net = net
        self.model = model
        self.output = output
        self.device = device
        self.batch_size = int(batch_size)
        self.weights_path = Path(weights_path)

    @classmethod
    def from_params(cls, section: dict) -> "Musicnn":
        """Build from params.yaml: features.musicnn (keys: filmscore.config.EMBED_SCHEMA['musicnn']).

        Raises WeightsMissing when `<weights>/<model>.npz` is absent (run
        `filmscore weights fetch-musicnn`), WeightsCorrupt when it is unusable.
        """
        s = {**P.DEFAULT_SECTION, **(section or {})}
        model = str(s["model"])
        if model not in P.MODELS:
            raise ValueError(f"features.musicnn.model must be one of {', '.join(P.MODELS)}, got {model!r}")
        path = weights_file(s["weights"], model)
        if not path.exists():
            raise WeightsMissing("musicnn", path, P.GET_WEIGHTS, "features.musicnn.weights")
        if not path.is_file():
            raise WeightsCorrupt(path, "is not a file")
        device = resolve_device(s["device"], "features.musicnn.device")
        net = load_network(path, model).to(device)
        return cls(net, model, str(s["output"]), device, int(s["batch_size"]), path)

    @property
    def tags(self) -> tuple[str, ...]:
        return P.labels(self.model)

    @property
    def columns(self) -> list[str]:
        pen = [f"{PREFIX}{i:03d}" for i in range(penultimate_size(self.model))]
        tags = [tag_column(t) for t in self.tags]
        return {"penultimate": pen, "taggram": tags, "both": pen + tags}[self.output]

    @property
    def dim(self) -> int:
        return len(self.columns)

    def files(self) -> list[Path]:
        return [self.weights_path]

    def describe(self) -> str:
        return f"musicnn {P.WHEEL_VERSION} {self.model}, output {self.output}, device {self.device}"

    def _select(self, pen, logits):
        import torch

        if self.output == "penultimate":
            return pen
        if self.output == "taggram":
            return torch.sigmoid(logits)
        return torch.cat([pen, torch.sigmoid(logits)], dim=1)

    def embed_patches(self, patches: np.ndarray) -> np.ndarray:
        """(k, 187, 96) log-mel patches -> (k, dim) float32."""
        if len(patches) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return run_batches(lambda x: self._select(*self.net(x)), patches, self.batch_size, self.device)

    def embed_starts(self, spec: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """(k, dim) float32 outputs of the patches of `spec` (n >= 187 frames) starting at `starts`.

        The musicnn models share the front-end convolutions of overlapping
        patches (`MusicnnNet.front_sequence` and `forward_shared`: the same
        result as patch by patch, with only the frames near each patch's ends
        recomputed); the VGG models run patch by patch.
        """
        if not isinstance(self.net, MusicnnNet):
            return self.embed_patches(frontend.patches(spec, starts))
        import torch

        outs = []
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(spec, dtype=np.float32)).to(self.device)
            front = self.net.front_sequence(x)
            s = torch.from_numpy(np.asarray(starts, dtype=np.int64)).to(self.device)
            for i in range(0, len(s), self.batch_size):
                pen, logits = self.net.forward_shared(x, front, s[i:i + self.batch_size])
                outs.append(self._select(pen, logits).float().cpu().numpy())
        return np.concatenate(outs, axis=0)

    def embed(self, audio: np.ndarray, sr: int, n_seconds: int | None = None) -> np.ndarray:
        """Mono audio (any rate; 16 kHz skips resampling) -> (n_seconds, dim) float32 at 1 Hz.

        `n_seconds` defaults to the duration rounded to whole seconds, at least
        1 (filmscore.features.embedding.n_seconds); empty audio gives no rows.
        """
        spec = frontend.log_mel(audio, sr)
        n = _n_seconds(len(audio), sr) if n_seconds is None else int(n_seconds)
        if len(spec) == 0 or n <= 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        spec = frontend.repeat_pad(spec)
        starts = frontend.patch_starts(len(spec), n)
        unique, which = np.unique(starts, return_inverse=True)  # the ends of a cue share clamped patches
        return self.embed_starts(spec, unique)[which]
