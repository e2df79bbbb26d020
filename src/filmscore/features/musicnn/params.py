"""musicnn's fixed hyperparameters (as the musicnn 0.1.0 release), its tags, and filmscore's defaults.

Sources, all inside the `musicnn==0.1.0` wheel: `musicnn/configuration.py`
(sample rate, FFT, hop, mel bands, tag lists), `musicnn/extractor.py`
(log compression, 3 s patches), `musicnn/models.py` (the networks) and each
model's `config.json` (`n_frames: 187`, `pad_short: repeat-pad`).
"""

from __future__ import annotations

import re

from ...config import SCHEMA, defaults

# Frontend (configuration.py, extractor.py).
SAMPLE_RATE = 16000
FFT_SIZE = 512
FFT_HOP = 256
N_MELS = 96
LOG_SCALE = 10000.0  # log10(10000 x + 1) of the mel power
PATCH_SECONDS = 3.0  # the models' input length
# extractor.py: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, where
# time_to_frames(t) = floor((t * sr - n_fft // 2) / hop)
N_FRAMES = (int(PATCH_SECONDS * SAMPLE_RATE) - FFT_SIZE // 2) // FFT_HOP + 1  # 187
FRAME_SECONDS = FFT_HOP / SAMPLE_RATE  # 0.016 s between frame centres

# Networks (models.py): TF1 tf.layers.batch_normalization's epsilon.
BN_EPSILON = 1e-3
MUSICNN_FRONTEND_FILTERS = 1.6  # num_filt: timbral 204 (1.6 * 128) and temporal 51 (1.6 * 32) filters
MUSICNN_MIDEND_FILTERS = 64
MUSICNN_BACKEND_UNITS = 200
VGG_FILTERS = 128
N_TAGS = 50

# The four models of the wheel (the choices of features.musicnn.model): name -> architecture.
MODELS = {m: ("vgg" if m.endswith("_vgg") else "musicnn") for m in SCHEMA["features"]["musicnn"]["model"].choices}
OUTPUTS = SCHEMA["features"]["musicnn"]["output"].choices

# configuration.py: the models' output units, in order.
MTT_LABELS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
    "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop",
    "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
    "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
)
MSD_LABELS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock", "jazz",
    "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s",
    "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy",
    "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)


def labels(model: str) -> tuple[str, ...]:
    """The 50 tags of a model, in output order (MTT_* models: MagnaTagATune, MSD_*: Million Song Dataset)."""
    return MTT_LABELS if model.startswith("MTT") else MSD_LABELS


# Feature columns: penultimate `musicnn_000` ..., taggram `musicnn_tag_<tag>`.
PREFIX = "musicnn_"
TAG_PREFIX = PREFIX + "tag_"


def tag_column(tag: str) -> str:
    """The column of a tag: 'female vocalists' -> 'musicnn_tag_female_vocalists', 'Hip-Hop' -> 'musicnn_tag_hip_hop'."""
    return TAG_PREFIX + re.sub(r"[^0-9a-z]+", "_", tag.lower()).strip("_")


# The wheel the weights come from (PyPI, ISC licence). Its sha256, recorded when the port was written.
WHEEL_VERSION = "0.1.0"
WHEEL_NAME = f"musicnn-{WHEEL_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
WHEEL_BYTES = 29292476
PIP_DOWNLOAD = f"pip download --no-deps musicnn=={WHEEL_VERSION}"
WEIGHTS_DIR = SCHEMA["features"]["musicnn"]["weights"].default  # <model>.npz, by `filmscore weights fetch-musicnn`
FETCH_COMMAND = "filmscore weights fetch-musicnn"
GET_WEIGHTS = (f"the musicnn {WHEEL_VERSION} weights: run `{FETCH_COMMAND}` (it runs `{PIP_DOWNLOAD}` and converts "
               "the four TensorFlow checkpoints of the wheel to .npz)")

# params.yaml: features.musicnn; its defaults are declared once, in filmscore.config.
DEFAULT_SECTION = defaults("features.musicnn")
