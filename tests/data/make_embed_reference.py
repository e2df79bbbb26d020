"""Record TensorFlow / Keras outputs for the VGGish and OpenL3 port tests (tests/data/embed_reference.npz).

Not part of the test run: it needs TensorFlow, which filmscore does not
depend on. To regenerate, in a separate environment:

    python3.11 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1
    cd tests && /tmp/tfenv/bin/python data/make_embed_reference.py

VGGish: the graph of the TF release's vggish_slim.py (3x3 SAME convolutions +
ReLU, 2x2 max-pools, NHWC flatten, fc1 x 2 with ReLU, fc2 linear), written with
tf.nn ops on the checkpoint's variables. OpenL3: openl3's
`_construct_mel256_audio_network(include_frontend=False)` in tf.keras, followed
by openl3's final MaxPooling2D(padding='same') + Flatten for 512-d and 6144-d.
Weights and inputs come from tests/embed_fixtures.py (numpy seeds), so the test
can rebuild them without TensorFlow.
"""

import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tensorflow as tf  # noqa: E402
from tensorflow.keras import Model  # noqa: E402
from tensorflow.keras.layers import (Activation, BatchNormalization, Conv2D, Flatten, Input,  # noqa: E402
                                     MaxPooling2D)

from embed_fixtures import (VGGISH_TF_LAYERS, openl3_keras_weights, openl3_spectrograms,  # noqa: E402
                            vggish_examples, vggish_tf_variables)


def vggish_reference() -> np.ndarray:
    v = {k: tf.constant(a) for k, a in vggish_tf_variables().items()}
    x = tf.reshape(tf.constant(vggish_examples()), (-1, 96, 64, 1))

    def conv(scope, t):
        return tf.nn.relu(tf.nn.conv2d(t, v[f"vggish/{scope}/weights"], 1, "SAME") + v[f"vggish/{scope}/biases"])

    def pool(t):
        return tf.nn.max_pool2d(t, 2, 2, "SAME")

    net = pool(conv("conv1", x))
    net = pool(conv("conv2", net))
    net = pool(conv("conv3/conv3_2", conv("conv3/conv3_1", net)))
    net = pool(conv("conv4/conv4_2", conv("conv4/conv4_1", net)))
    net = tf.reshape(net, (-1, 12288))
    for scope in ("fc1/fc1_1", "fc1/fc1_2"):
        net = tf.nn.relu(tf.matmul(net, v[f"vggish/{scope}/weights"]) + v[f"vggish/{scope}/biases"])
    assert [s for s, _ in VGGISH_TF_LAYERS][-1] == "fc2"
    return (tf.matmul(net, v["vggish/fc2/weights"]) + v["vggish/fc2/biases"]).numpy()


def openl3_model(n_mels=256) -> Model:
    x = y = Input(shape=(n_mels, 199, 1), dtype="float32")
    y = BatchNormalization()(y)
    for nf in (64, 128, 256):
        for _ in range(2):
            y = Activation("relu")(BatchNormalization()(Conv2D(nf, (3, 3), padding="same")(y)))
        y = MaxPooling2D(pool_size=(2, 2), strides=2)(y)
    y = Activation("relu")(BatchNormalization()(Conv2D(512, (3, 3), padding="same")(y)))
    y = Conv2D(512, (3, 3), padding="same", name="audio_embedding_layer")(y)
    m = Model(x, y)
    with_weights = [ly for ly in m.layers if ly.weights]
    layers = openl3_keras_weights()
    assert len(with_weights) == len(layers)
    for ly, (kind, ws) in zip(with_weights, layers):
        assert isinstance(ly, BatchNormalization if kind == "bn" else Conv2D)
        ly.set_weights(ws)
    return m


def main() -> None:
    m = openl3_model()
    spec = openl3_spectrograms()[..., None]
    out = {"vggish_tf": vggish_reference()}
    for size, pool in ((512, (32, 24)), (6144, (8, 8))):
        head = Flatten()(MaxPooling2D(pool_size=pool, padding="same")(m.output))
        out[f"openl3_{size}"] = Model(m.input, head).predict(spec, verbose=0)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "embed_reference.npz")
    np.savez_compressed(path, **out)
    print({k: v.shape for k, v in out.items()}, "->", path)


if __name__ == "__main__":
    main()
