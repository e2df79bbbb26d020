"""VGGish's fixed hyperparameters (as in the reference vggish_params.py) and filmscore's defaults."""

from ...config import defaults

# Input frontend: log-mel spectrogram examples.
SAMPLE_RATE = 16000
STFT_WINDOW_SECONDS = 0.025  # 400 samples
STFT_HOP_SECONDS = 0.010  # 160 samples
NUM_MEL_BINS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01  # log(mel + 0.01)
EXAMPLE_WINDOW_SECONDS = 0.96  # 96 frames of 10 ms
EXAMPLE_HOP_SECONDS = 0.96  # no overlap
NUM_FRAMES = 96

# Network and postprocessing.
EMBEDDING_SIZE = 128
PCA_EIGEN_VECTORS_NAME = "pca_eigen_vectors"
PCA_MEANS_NAME = "pca_means"
QUANTIZE_MIN_VAL = -2.0
QUANTIZE_MAX_VAL = 2.0

# The published checkpoints (docs/weights.md).
TORCHVGGISH_RELEASE = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
TORCHVGGISH_WEIGHTS = "vggish-10086976.pth"
TORCHVGGISH_PCA = "vggish_pca_params-970ea276.pth"
TF_CHECKPOINT_URL = "https://storage.googleapis.com/audioset/vggish_model.ckpt"
TF_PCA_URL = "https://storage.googleapis.com/audioset/vggish_pca_params.npz"

GET_WEIGHTS = (f"{TORCHVGGISH_WEIGHTS} from {TORCHVGGISH_RELEASE} "
               f"(or convert {TF_CHECKPOINT_URL} with `filmscore weights convert-vggish`)")
GET_PCA = f"{TORCHVGGISH_PCA} from {TORCHVGGISH_RELEASE} (or {TF_PCA_URL})"

# params.yaml: features.vggish; its defaults are declared once, in filmscore.config.
DEFAULT_SECTION = defaults("features.vggish")
