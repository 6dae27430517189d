"""PyTorch peer for `cargo xtask bench-score`: the same trained autoencoder, read from the same
Driftglass model file (format 3 or 4: named little-endian f32 tensors), reconstructs the same images
and computes each image's binary cross-entropy (outputs clipped to [1e-7, 1 - 1e-7], as ours) on
the same number of threads (or on a CUDA GPU with `--device cuda`).

Timed: the forward passes and the per-image losses, in batches as given, after the warm-up runs;
the fastest of the timed runs is reported. Prints one JSON line with the images per second, the
threads PyTorch really used (`torch.get_num_threads()`), its version and device, and writes the
per-image losses (f32, little-endian) to `--losses` so the benchmark can assert they equal ours.

Only the benchmark uses PyTorch; the product never does.
"""

import argparse
import gzip
import json
import struct
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

LAYERS = ["encode_conv1", "encode_conv2", "decode_conv1", "decode_conv2", "decode_output"]


def read_model(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The header and the named tensors of a format-3 or format-4 model file."""
    raw = path.read_bytes()
    if raw[:8] != b"DGLSMODL":
        raise SystemExit(f"{path}: not a Driftglass model file")
    version, header_len = struct.unpack_from("<II", raw, 8)
    if version not in (3, 4):
        raise SystemExit(f"{path}: format {version}; run `driftglass upgrade` first")
    at = 16
    header = json.loads(raw[at : at + header_len])
    at += header_len
    (baseline,) = struct.unpack_from("<I", raw, at)
    at += 4 + 4 * baseline
    codes, dims = struct.unpack_from("<II", raw, at)
    at += 8 + 4 * codes * dims
    if version >= 4:
        # The novelty score's arrays, which scoring here does not need.
        (novelty,) = struct.unpack_from("<I", raw, at)
        at += 4 + 4 * novelty
    (weights_len,) = struct.unpack_from("<I", raw, at)
    at += 4
    end = at + weights_len
    (count,) = struct.unpack_from("<I", raw, at)
    at += 4
    tensors = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<I", raw, at)
        name = raw[at + 4 : at + 4 + name_len].decode()
        at += 4 + name_len
        (rank,) = struct.unpack_from("<I", raw, at)
        shape = struct.unpack_from(f"<{rank}I", raw, at + 4)
        at += 4 + 4 * rank
        size = int(np.prod(shape))
        tensors[name] = np.frombuffer(raw, dtype="<f4", count=size, offset=at).reshape(shape).copy()
        at += 4 * size
    if at != end:
        raise SystemExit(f"{path}: the weights section does not add up")
    return header, tensors


def autoencoder(tensors: dict[str, np.ndarray]) -> nn.Module:
    convs = []
    for name in LAYERS:
        weight = torch.from_numpy(tensors[f"{name}.weight"])
        out_channels, in_channels, k, _ = weight.shape
        conv = nn.Conv2d(in_channels, out_channels, k, padding=k // 2)
        with torch.no_grad():
            conv.weight.copy_(weight)
            conv.bias.copy_(torch.from_numpy(tensors[f"{name}.bias"]))
        convs.append(conv)
    return nn.Sequential(
        convs[0], nn.ReLU(), nn.MaxPool2d(2),  # [batch, 32, side/2, side/2]
        convs[1], nn.ReLU(), nn.MaxPool2d(2),  # [batch, 32, side/4, side/4]
        convs[2], nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),  # [batch, 32, side/2, side/2]
        convs[3], nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),  # [batch, 32, side, side]
        convs[4], nn.Sigmoid(),  # [batch, channels, side, side]
    ).eval()


def idx_images(path: Path, limit: int) -> np.ndarray:
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    count, rows, cols = struct.unpack_from(">III", raw, 4)
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, 1, rows, cols)
    return (pixels[:limit].astype(np.float32) / 255.0).copy()


def peer_arguments(description: str) -> argparse.ArgumentParser:
    """The arguments every scoring peer takes (`cargo xtask bench-score` passes them)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=10_000)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--losses", type=Path)
    return parser


def fastest_run(run, warmups: int, runs: int, before=lambda: None):
    """`warmups` untimed calls of `run`, then the fastest of `runs` timed ones: (seconds,
    the last call's result). `before` runs ahead of each timed call, untimed."""
    for _ in range(warmups):
        run()
    fastest, result = float("inf"), None
    for _ in range(runs):
        before()
        started = time.perf_counter()
        result = run()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest, result


def main() -> None:
    parser = peer_arguments(__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    _, tensors = read_model(args.model)
    model = autoencoder(tensors).to(device)
    images = torch.from_numpy(idx_images(args.images, args.limit))

    def run() -> torch.Tensor:
        losses = []
        with torch.inference_mode():
            for start in range(0, len(images), args.batch_size):
                x = images[start : start + args.batch_size].to(device)
                p = model(x).clamp(1e-7, 1.0 - 1e-7)
                bce = -(x * p.log() + (1.0 - x) * (1.0 - p).log()).flatten(1).mean(1)
                losses.append(bce.cpu())
        return torch.cat(losses)

    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    fastest, losses = fastest_run(run, args.warmups, args.runs, synchronize)
    if args.losses:
        args.losses.write_bytes(losses.numpy().astype("<f4").tobytes())
    print(json.dumps({
        "images": len(images),
        "seconds": fastest,
        "images_per_second": len(images) / fastest,
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "mkldnn": torch.backends.mkldnn.is_available(),
    }), flush=True)


if __name__ == "__main__":
    main()
