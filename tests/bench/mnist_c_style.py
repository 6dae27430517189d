"""MNIST-C-style corruptions of the last 3,000 MNIST test digits, as folders of PNGs.

A held-out check of the novelty score: none of these sets was used to choose it. Run

    python3 tests/bench/mnist_c_style.py --data ../shared/data --out target/mnist-c
    driftglass eval --control target/mnist-c/control \
        $(for d in target/mnist-c/*/; do n=$(basename $d); [ $n = control ] || echo --drift $n=$d; done)

Needs numpy, scipy and pillow. Seeded: the same folders every run. Modelled on Mu & Gilmer
(2019), "MNIST-C", at one moderate severity each, plus thicker and thinner strokes (a change of
pen, which a user may or may not call drift).
"""

import argparse
import gzip
import io
import os

import numpy as np
from PIL import Image
from scipy import ndimage as ndi


def read_idx(path):
    raw = gzip.open(path).read()
    count = int.from_bytes(raw[4:8], "big")
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, 28, 28) / 255.0


def affine(image, matrix):
    centre = np.array([13.5, 13.5])
    return ndi.affine_transform(image, matrix, offset=centre - matrix @ centre, order=1)


def rotation(degrees):
    t = np.radians(degrees)
    matrix = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return lambda image, rng: affine(image, matrix)


def draw(image, points, dotted=False):
    out = image.copy()
    for (y0, x0), (y1, x1) in zip(points[:-1], points[1:]):
        steps = int(max(abs(y1 - y0), abs(x1 - x0)) * 2) + 1
        for k, t in enumerate(np.linspace(0, 1, steps)):
            if dotted and (k // 2) % 2:
                continue
            y, x = int(round(y0 + (y1 - y0) * t)), int(round(x0 + (x1 - x0) * t))
            if 0 <= y < 28 and 0 <= x < 28:
                out[y, x] = 1.0
    return out


def glass_blur(image, rng):
    out = ndi.gaussian_filter(image, 0.7)
    for y in range(27, 0, -1):
        for x in range(27, 0, -1):
            dy, dx = rng.integers(-1, 2, 2)
            y2, x2 = min(max(y + dy, 0), 27), min(max(x + dx, 0), 27)
            out[y, x], out[y2, x2] = out[y2, x2], out[y, x]
    return ndi.gaussian_filter(out, 0.7)


def motion_blur(image, rng):
    kernel = np.zeros((7, 7))
    kernel[3, :] = 1
    kernel = ndi.rotate(kernel, rng.uniform(0, 180), reshape=False, order=1)
    return ndi.convolve(image, kernel / kernel.sum(), mode="constant")


def fog(image, rng):
    haze = ndi.zoom(rng.random((4, 4)), 7, order=3)[:28, :28]
    return image + 0.35 * haze


def spatter(image, rng):
    out = image.copy()
    yy, xx = np.mgrid[0:28, 0:28]
    for _ in range(rng.integers(3, 7)):
        y, x = rng.integers(0, 28, 2)
        radius = rng.uniform(0.8, 1.8)
        out[(yy - y) ** 2 + (xx - x) ** 2 <= radius * radius] = 1.0
    return out


def canny_edges(image, rng):
    return (np.hypot(ndi.sobel(image, 0), ndi.sobel(image, 1)) > 1.0).astype(float)


def jpeg(image, rng, quality=8):
    buffer = io.BytesIO()
    Image.fromarray(to_bytes(image)).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer), dtype=float) / 255.0


def translate(image, rng):
    dy, dx = rng.choice([-3, 3], 2)
    return np.roll(np.roll(image, dy, 0), dx, 1)


CORRUPTIONS = {
    "shot_noise": lambda im, rng: rng.poisson(im * 40) / 40,
    "impulse_noise": lambda im, rng: np.where(
        rng.random(im.shape) < 0.06, rng.integers(0, 2, im.shape).astype(float), im
    ),
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "shear": lambda im, rng: affine(im, np.array([[1, 0], [rng.choice([-0.35, 0.35]), 1]])),
    "scale_down": lambda im, rng: affine(im, np.eye(2) / 0.7),
    "scale_up": lambda im, rng: affine(im, np.eye(2) / 1.25),
    "rotate_30": rotation(30),
    "rotate_10": rotation(10),
    "brightness": lambda im, rng: im + 0.3,
    "contrast": lambda im, rng: 0.5 * im,
    "translate_3": translate,
    "stripe": lambda im, rng: draw(im, [(0, x := rng.integers(6, 22)), (27, x)]),
    "dotted_line": lambda im, rng: draw(
        im, [tuple(rng.integers(0, 28, 2)), tuple(rng.integers(0, 28, 2))], dotted=True
    ),
    "zigzag": lambda im, rng: draw(im, [tuple(rng.integers(0, 28, 2)) for _ in range(4)]),
    "fog": fog,
    "spatter": spatter,
    "canny_edges": canny_edges,
    "jpeg_q8": jpeg,
    "thick": lambda im, rng: ndi.grey_dilation(im, size=(2, 2)),
    "thin": lambda im, rng: ndi.grey_erosion(im, size=(2, 2)),
}


def to_bytes(image):
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def save(folder, images):
    os.makedirs(folder, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(to_bytes(image)).save(os.path.join(folder, f"{i:04d}.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="target/mnist-c")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    digits = read_idx(os.path.join(args.data, "mnist", "t10k-images-idx3-ubyte.gz"))[7000:]
    rng = np.random.default_rng(args.seed)
    save(os.path.join(args.out, "control"), digits)
    for name, corrupt in CORRUPTIONS.items():
        save(os.path.join(args.out, name), [corrupt(image, rng) for image in digits])
        print(name, flush=True)


if __name__ == "__main__":
    main()
