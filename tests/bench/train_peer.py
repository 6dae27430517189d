"""PyTorch CPU peer for `cargo xtask bench-train`: the reference autoencoder trained the way
`driftglass train` trains it, to compare training throughput on the same machine.

Same model (five 3x3 convolutions, 2x2 max pooling, nearest 2x upsampling, sigmoid output,
Glorot-uniform kernels, zero biases), same optimizer (Keras 2.0 Adadelta: lr 1.0, rho 0.95,
epsilon 1e-8), same loss (binary cross-entropy on outputs clipped to [1e-7, 1 - 1e-7]), same
denoising inputs (x + 0.5 * N(0, 1), clipped to [0, 1], drawn per batch), same batch size, on
the first N MNIST training images. Prints one JSON line per epoch with the images per second of
its training part (the forward and backward passes and the updates, as ours reports).

Only the benchmark uses PyTorch (`pip install torch numpy`); the product never does.
"""

import argparse
import gzip
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def mnist_images(folder: Path, limit: int) -> np.ndarray:
    path = folder / "train-images-idx3-ubyte.gz"
    raw = gzip.open(path).read() if path.exists() else (folder / "train-images-idx3-ubyte").read_bytes()
    count = int.from_bytes(raw[4:8], "big")
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, 1, 28, 28)
    return (pixels[:limit].astype(np.float32) / 255.0).copy()


def autoencoder() -> nn.Module:
    def conv(cin: int, cout: int) -> nn.Conv2d:
        layer = nn.Conv2d(cin, cout, 3, padding=1)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    return nn.Sequential(
        conv(1, 32), nn.ReLU(), nn.MaxPool2d(2),  # [batch, 32, 14, 14]
        conv(32, 32), nn.ReLU(), nn.MaxPool2d(2),  # [batch, 32, 7, 7]
        conv(32, 32), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),  # [batch, 32, 14, 14]
        conv(32, 32), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),  # [batch, 32, 28, 28]
        conv(32, 1), nn.Sigmoid(),  # [batch, 1, 28, 28]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(42)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    images = torch.from_numpy(mnist_images(args.mnist, args.limit)).to(device)
    model = autoencoder().to(device)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-8)
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(images), device=device)
        started = time.perf_counter()
        total = 0.0
        for start in range(0, len(images), args.batch_size):
            clean = images[order[start : start + args.batch_size]]
            noisy = (clean + 0.5 * torch.randn_like(clean)).clamp(0.0, 1.0)
            output = model(noisy).clamp(1e-7, 1.0 - 1e-7)
            loss = -(clean * output.log() + (1.0 - clean) * (1.0 - output).log()).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(clean)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        print(json.dumps({
            "epoch": epoch,
            "images": len(images),
            "seconds": seconds,
            "images_per_second": len(images) / seconds,
            "train_loss": total / len(images),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        }), flush=True)


if __name__ == "__main__":
    main()
