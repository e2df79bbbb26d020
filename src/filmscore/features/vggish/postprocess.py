"""VGGish postprocessing, as the reference vggish_postprocess.py: PCA (with whitening), clip, 8-bit quantisation.

The released AudioSet embeddings (used by the paper) are this transform of the
raw 128-d output:

    pca     = E (x - mu)              E: 128 x 128 eigenvectors (rows), mu: 128 means
    clipped = clip(pca, -2, 2)
    q       = uint8((clipped + 2) * 255 / 4)   truncation toward zero, values 0..255

The reference casts with numpy's astype(uint8), i.e. truncates; torchvggish
rounds instead (values differ by one step half the time). filmscore truncates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..weights import WeightsCorrupt, load_array_dict
from . import params as P


class Postprocessor:
    def __init__(self, pca_eigen_vectors: np.ndarray, pca_means: np.ndarray):
        e = np.asarray(pca_eigen_vectors, dtype=np.float64)
        m = np.asarray(pca_means, dtype=np.float64).reshape(-1)
        n = P.EMBEDDING_SIZE
        if e.shape != (n, n) or m.shape != (n,):
            raise ValueError(f"PCA params must be {n}x{n} eigenvectors and {n} means, got {e.shape} and {m.shape}")
        self.pca_matrix = e
        self.pca_means = m

    @classmethod
    def load(cls, path: str | Path) -> "Postprocessor":
        """From torchvggish's .pth or the TF release's .npz (keys pca_eigen_vectors, pca_means)."""
        path = Path(path)
        arrays = load_array_dict(path)
        names = (P.PCA_EIGEN_VECTORS_NAME, P.PCA_MEANS_NAME)
        missing = [k for k in names if k not in arrays]
        if missing:
            holds = ", ".join(sorted(arrays)) or "nothing"
            raise WeightsCorrupt(path, f"is not a VGGish PCA file (no {', '.join(missing)}; holds {holds})",
                                 "use vggish_pca_params-970ea276.pth (torchvggish) or vggish_pca_params.npz (TF release)")
        try:
            pp = cls(arrays[names[0]], arrays[names[1]])
        except ValueError as e:
            raise WeightsCorrupt(path, str(e)) from None
        if not (np.all(np.isfinite(pp.pca_matrix)) and np.all(np.isfinite(pp.pca_means))):
            raise WeightsCorrupt(path, "holds NaN or infinite PCA parameters")
        return pp

    def pca(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, 128) raw embeddings -> (n, 128) PCA-transformed (before clipping)."""
        x = np.asarray(embeddings, dtype=np.float64)
        return (self.pca_matrix @ (x.T - self.pca_means[:, None])).T

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, 128) raw embeddings -> (n, 128) uint8 quantised PCA embeddings (0..255)."""
        return quantize(self.pca(embeddings))


def quantize(pca_applied: np.ndarray) -> np.ndarray:
    """Clip to [-2, 2] and map to 0..255 with truncation, as the reference."""
    clipped = np.clip(pca_applied, P.QUANTIZE_MIN_VAL, P.QUANTIZE_MAX_VAL)
    scaled = (clipped - P.QUANTIZE_MIN_VAL) * (255.0 / (P.QUANTIZE_MAX_VAL - P.QUANTIZE_MIN_VAL))
    return scaled.astype(np.uint8)
