"""Record the musicnn 0.1.0 release's TensorFlow outputs for the port's parity test (tests/data/musicnn_reference.npz).

Not part of the test run: it needs TensorFlow and the release's own code,
which filmscore does not depend on. It was run once, in a separate
environment, as:

    python3.11 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1 librosa==0.11.0
    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn
    unzip -q -o /tmp/musicnn/musicnn-0.1.0-py3-none-any.whl -d /tmp/musicnn/x
    PYTHONPATH=src python -c "import sys; sys.path.insert(0, 'bench'); from material import fetch_music; fetch_music()"
    /tmp/tfenv/bin/python tests/data/make_musicnn_reference.py /tmp/musicnn/x .bench/flare

What it computes, for each input and each of the four models:

- inputs: two 3 s excerpts of the Flare game soundtrack (Debian package
  flare-game, CC-BY-SA), battle_theme.ogg from 30 s (drums, brass) and
  forest_theme.ogg from 30 s (calm, strings and winds), loaded with
  `librosa.load(sr=16000)` and stored as 16-bit PCM (the reference is
  computed from the stored samples); and `tests/musicnn_fixtures.test_tone()` (3.2 s);
- the spectrogram as the release's extractor.py (`batch_data`):
  librosa.feature.melspectrogram(n_fft=512, hop_length=256, n_mels=96), cast
  to float16, log10(10000 x + 1); with pad_mode='reflect' (the librosa
  default when the release and its training data were made; librosa >= 0.10
  pads with zeros), and the log computed in float32, as numpy < 2 (the
  release pins numpy < 1.17) promotes `10000 * float16_array`;
- the first 187-frame patch (extractor.py's first non-overlapping patch; stored
  as its float16 mel power `<input>_mel16`);
- the release's graph: `musicnn.models.define_model` from the wheel's own
  models.py under tf.compat.v1 (graph mode), restored from the wheel's
  checkpoint with tf.compat.v1.train.Saver exactly as extractor.py does,
  is_training False: the sigmoid taggram, and the 'penultimate' tensor (musicnn)
  or pool5 flattened in TF's (time, frequency, channel) order (VGG).
"""

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

EXCERPTS = {"battle": ("battle_theme.ogg", 30.0), "forest": ("forest_theme.ogg", 30.0)}
EXCERPT_SECONDS = 3.0  # 188 frames: one patch
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
N_FRAMES = 187


def mel16(y: np.ndarray) -> np.ndarray:
    """The float16 mel power spectrogram (frames, 96) of extractor.py's batch_data."""
    import librosa

    rep = librosa.feature.melspectrogram(y=y, sr=16000, hop_length=256, n_fft=512, n_mels=96, pad_mode="reflect").T
    return rep.astype(np.float16)


def log_compress(rep16: np.ndarray) -> np.ndarray:
    return np.log10(10000 * rep16.astype(np.float32) + 1).astype(np.float32)


def run_release(wheel_dir: Path, model: str, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    sys.path.insert(0, str(wheel_dir))
    from musicnn import models  # the release's own graph code

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        out = models.define_model(x, is_training, model, 50)
        taggram = tf.nn.sigmoid(out[0])
        penultimate = out[-1] if "musicnn" in model else tf.reshape(out[5], [-1, 2 * 1 * 128])
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver().restore(sess, str(wheel_dir / "musicnn" / model) + "/")
        tags, pen = sess.run([taggram, penultimate], feed_dict={x: patches, is_training: False})
    return tags, pen


def main(wheel_dir: str, music_dir: str) -> None:
    import librosa

    from musicnn_fixtures import REFERENCE, test_tone

    music = {p.name: p for p in Path(music_dir).rglob("*.ogg")}
    out: dict[str, np.ndarray] = {}
    inputs: dict[str, np.ndarray] = {}
    for key, (name, start) in EXCERPTS.items():
        y, _ = librosa.load(music[name], sr=16000, offset=start, duration=EXCERPT_SECONDS)
        pcm = np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)
        out[f"{key}_pcm16"] = pcm
        inputs[key] = pcm.astype(np.float32) / 32768.0
    inputs["tone"] = test_tone()
    names = list(inputs)
    mels = [mel16(inputs[k])[:N_FRAMES] for k in names]
    patches = np.stack([log_compress(m) for m in mels])
    for k, m in zip(names, mels):
        out[f"{k}_mel16"] = m  # the patch is log_compress of it
    for model in MODELS:
        tags, pen = run_release(Path(wheel_dir), model, patches)
        for i, k in enumerate(names):
            out[f"{k}_{model}_taggram"] = tags[i]
            out[f"{k}_{model}_penultimate"] = pen[i]
    np.savez_compressed(REFERENCE, **out)
    print({k: v.shape for k, v in out.items()}, "->", REFERENCE)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
