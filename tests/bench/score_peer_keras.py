"""Keras (TensorFlow, CPU) peer for `cargo xtask bench-score`: the reference architecture in
Keras layers with the weights of the same Driftglass model file, the same images and the same
clipped per-image BCE as tests/bench/score_peer.py, on the same number of threads (TensorFlow's
intra- and inter-op thread pools both set to it before anything runs).

Timed: `model(x, training=False)` and the losses, per batch, after the warm-up runs; the fastest
of the timed runs. Prints one JSON line (images per second, the threads TensorFlow reports, its
version) and writes the per-image losses (f32, little-endian) to `--losses`.

Only the benchmark uses TensorFlow; the product never does.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from score_peer import LAYERS, fastest_run, idx_images, peer_arguments, read_model  # noqa: E402


def autoencoder(tensors: dict, side: int, channels: int) -> tf.keras.Model:
    layers = tf.keras.layers
    model = tf.keras.Sequential([
        tf.keras.Input((side, side, channels)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.UpSampling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.UpSampling2D(2),
        layers.Conv2D(channels, 3, padding="same", activation="sigmoid"),
    ])
    weights = []
    for name in LAYERS:
        # Ours: [out, in, kh, kw]; Keras: [kh, kw, in, out].
        weights.append(np.transpose(tensors[f"{name}.weight"], (2, 3, 1, 0)))
        weights.append(tensors[f"{name}.bias"])
    model.set_weights(weights)
    return model


def main() -> None:
    args = peer_arguments(__doc__.splitlines()[0]).parse_args()

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    _, tensors = read_model(args.model)
    images = idx_images(args.images, args.limit).transpose(0, 2, 3, 1).copy()  # NHWC
    model = autoencoder(tensors, images.shape[1], images.shape[3])

    @tf.function(jit_compile=False)
    def losses_of(x):
        p = tf.clip_by_value(model(x, training=False), 1e-7, 1.0 - 1e-7)
        bce = -(x * tf.math.log(p) + (1.0 - x) * tf.math.log(1.0 - p))
        return tf.reduce_mean(tf.reshape(bce, (tf.shape(x)[0], -1)), axis=1)

    def run() -> np.ndarray:
        out = [losses_of(tf.constant(images[s : s + args.batch_size])).numpy()
               for s in range(0, len(images), args.batch_size)]
        return np.concatenate(out)

    fastest, losses = fastest_run(run, args.warmups, args.runs)
    if args.losses:
        args.losses.write_bytes(losses.astype("<f4").tobytes())
    print(json.dumps({
        "images": len(images),
        "seconds": fastest,
        "images_per_second": len(images) / fastest,
        "threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "device": "cpu",
        "tensorflow": tf.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
