"""Score a folder of images on a Ray cluster with Ray Data, and get the CLI's verdict.

    python ray_score.py IMAGES_DIR [--model model.dgm] [--workers 2] [--address auto] > report.json

Each Ray actor loads the model once and scores blocks of files with the Driftglass core (one
thread each); the driver joins the parts in file order and runs the batch tests. The report is
the JSON of `driftglass score --json IMAGES_DIR`: the same losses, the same tests, the same
verdict.
"""

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import ray

import driftglass


class Scorer:
    """A Ray Data actor: the model loaded once, each block of files scored into one part."""

    def __init__(self, model_bytes):
        driftglass.set_threads(1)
        self.model = driftglass.Model.load(model_bytes) if model_bytes else driftglass.Model.bundled()

    def __call__(self, batch):
        names = [str(p) for p in batch["path"]]
        if not names:
            return {"first": np.array([], dtype=object), "part": np.array([], dtype=object)}
        scores = self.model.score(self.model.prepare(list(batch["bytes"]), names=names))
        return {"first": np.array([names[0]]), "part": np.array([pickle.dumps(scores)], dtype=object)}


def score_files(files, model_path=None, workers=2, batch_size=256):
    """The report (a dict, the CLI's JSON) of `files` scored by `workers` actors, and the
    seconds from reading the first file to the verdict."""
    # Absolute paths: Ray names each file by its absolute path, and the report names them so.
    files = [os.path.abspath(f) for f in files]
    if len(set(files)) != len(files):
        raise ValueError("a file is listed twice")
    model_bytes = Path(model_path).read_bytes() if model_path else None
    model = driftglass.Model.load(model_bytes) if model_bytes else driftglass.Model.bundled()
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    started = time.perf_counter()
    # Paths as given, so the report names files as `driftglass score` does.
    dataset = ray.data.read_binary_files(files, include_paths=True)
    parts = dataset.map_batches(
        Scorer,
        fn_constructor_args=(model_bytes,),
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=workers,
        num_cpus=1,
    ).take_all()
    # Back in file order (each part is a contiguous run of files).
    order = {name: i for i, name in enumerate(files)}
    parts.sort(key=lambda row: order[str(row["first"])])
    scores = [pickle.loads(row["part"]) for row in parts]
    report = json.loads(driftglass.batch_tests(model, scores))
    seconds = time.perf_counter() - started
    names = [image["name"] for image in report["images"]]
    if names != files:
        raise RuntimeError("the parts do not cover the files once each, in order")
    return report, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--address", default=None, help="a running cluster (default: start one here)")
    args = parser.parse_args()
    ray.init(address=args.address, include_dashboard=False)
    files = sorted(p for p in args.images.iterdir() if p.is_file())
    report, seconds = score_files(files, args.model, args.workers)
    print(json.dumps(report, indent=2))
    print(f"{len(files)} files in {seconds:.1f} s ({len(files) / seconds:.0f} images/s) on {args.workers} workers: "
          f"{report['batch']['tests']['verdict']}", file=sys.stderr)


if __name__ == "__main__":
    main()
