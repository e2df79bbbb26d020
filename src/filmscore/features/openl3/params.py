"""OpenL3's fixed hyperparameters (as the openl3 package's models.py) and filmscore's defaults."""

from ...config import defaults

SAMPLE_RATE = 48000
WINDOW_SECONDS = 1.0  # one embedding per 1 s window
HOP_SECONDS = 1.0  # filmscore's 1 Hz grid: window i covers seconds [i, i+1)

# kapre 0.1.x Melspectrogram, as openl3's models were trained (openl3 <= 0.3):
#   Melspectrogram(n_dft=2048, n_hop=242, n_mels=N, sr=48000, power_melgram=1.0, htk=True,
#                  return_decibel_melgram=True, padding='same')
N_DFT = 2048
N_HOP = 242
AMIN = 1e-10  # kapre amplitude_to_decibel
DYNAMIC_RANGE = 80.0
BN_EPSILON = 1e-3  # Keras BatchNormalization default

N_MELS = {"mel128": 128, "mel256": 256}
# Final max-pool per input representation and embedding size (openl3 models.AUDIO_POOLING_SIZES).
POOL_SIZES = {
    "mel128": {6144: (4, 8), 512: (16, 24)},
    "mel256": {6144: (8, 8), 512: (32, 24)},
}

WEIGHTS_REPO = "https://github.com/marl/openl3"
WEIGHTS_URL = "https://github.com/marl/openl3/raw/models/openl3_audio_{repr}_{content}-v0_4_0.h5.gz"


def weights_name(input_repr: str = "mel256", content: str = "music") -> str:
    return f"openl3_audio_{input_repr}_{content}.h5"


def get_weights(input_repr: str = "mel256") -> str:
    url = WEIGHTS_URL.format(repr=input_repr, content="music")
    return f"{weights_name(input_repr)} ({url}, gunzip it; or from an installed openl3 package)"


# params.yaml: features.openl3; its defaults are declared once, in filmscore.config.
DEFAULT_SECTION = defaults("features.openl3")
