"""The Python package against the CLI: same files, same losses, same verdict.

Run by `cargo xtask wheel --test` (and `cargo xtask test`), which builds and installs the wheel
and points DRIFTGLASS_CLI at the `driftglass` binary.
"""

import json
import os
import pickle
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import driftglass

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
CLI = os.environ.get("DRIFTGLASS_CLI", str(ROOT / "target" / "debug" / "driftglass"))


def cli_report(*args):
    """`driftglass score --json ARGS` (exit status 3, some files failed, still prints it)."""
    run = subprocess.run([CLI, "score", "--json", *map(str, args)], capture_output=True, text=True)
    assert run.returncode in (0, 3), run.stderr
    return json.loads(run.stdout)


def files_of(folder):
    return sorted(str(p) for p in Path(folder).iterdir())


def read_idx(path):
    """An IDX file of uint8 images as an array [N, H, W]."""
    data = Path(path).read_bytes()
    count, height, width = (int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, height, width)


def assert_same_tests(ours, theirs):
    """The batch and its tests equal: the verdict and every statistic and p-value."""
    a, b = ours["batch"], theirs["batch"]
    for key in ("inputs", "scored", "failed", "flagged"):
        assert a[key] == b[key], key
    assert a["loss_ratio"] == pytest.approx(b["loss_ratio"], abs=1e-9)
    ta, tb = a["tests"], b["tests"]
    assert ta["verdict"] == tb["verdict"]
    for key in ("combined_p_value", "permutation_p_value", "binomial_p_value"):
        assert ta[key] == pytest.approx(tb[key], rel=1e-9, abs=1e-300), key
    assert ta["ks"] == tb["ks"]
    assert (ta.get("mmd") is None) == (tb.get("mmd") is None)
    if ta.get("mmd"):
        assert ta["mmd"]["p_value"] == tb["mmd"]["p_value"]
        assert ta["mmd"]["statistic"] == pytest.approx(tb["mmd"]["statistic"], rel=1e-6)


def test_the_bundled_model_describes_itself():
    model = driftglass.Model.bundled()
    assert (model.side, model.channels) == (28, 1)
    assert len(model.sha256) == 64
    assert 0.05 < model.baseline_mean < 0.12
    assert "28×28 gray" in repr(model)
    assert driftglass.__version__


def test_files_score_as_the_cli_scores_them_bad_ones_keep_the_cli_messages():
    files = files_of(FIXTURES / "mixed")
    model = driftglass.Model.bundled()
    prepared = model.prepare([Path(f).read_bytes() for f in files], names=files)
    want = cli_report(*files)
    wanted_errors = [(i["name"], i["error"]) for i in want["images"] if i["status"] == "failed"]
    assert prepared.errors == wanted_errors and len(wanted_errors) == 3
    scores = model.score(prepared)
    scored = [i for i in want["images"] if i["status"] == "scored"]
    assert scores.names == [i["name"] for i in scored]
    np.testing.assert_allclose(scores.loss, [i["loss"] for i in scored], rtol=0, atol=1e-6)
    np.testing.assert_allclose(scores.p_value, [i["p_value"] for i in scored], rtol=0, atol=1e-9)
    np.testing.assert_allclose(scores.novelty, [i["novelty"] for i in scored], rtol=1e-6)
    assert list(scores.flagged) == [i["flagged"] for i in scored]
    assert scores.code.shape == (len(scored), 64) and scores.code.dtype == np.float32
    assert prepared.images().shape == (len(scored), 28, 28)
    report = json.loads(driftglass.batch_tests(model, scores))
    assert_same_tests(report, want)
    assert [i["name"] for i in report["images"]] == files


def test_an_array_scores_as_the_cli_scores_its_idx_file():
    idx = ROOT / "web" / "demo" / "letters.idx"
    images = read_idx(idx)
    model = driftglass.Model.bundled()
    names = [f"{idx}#{i}" for i in range(len(images))]
    scores = model.score(images, names=names)
    want = cli_report(idx)
    np.testing.assert_allclose(scores.loss, [i["loss"] for i in want["images"]], rtol=0, atol=1e-6)
    assert_same_tests(json.loads(driftglass.batch_tests(model, scores)), want)
    # uint8 and the same values as floats in [0, 1] are one input.
    floats = model.score(images.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(floats.loss, scores.loss)
    # Twice the side (each pixel a 2×2 block) is area-resized back to the same digits; RGB
    # copies of them are made gray again for this gray model.
    doubled = model.score(images.repeat(2, axis=1).repeat(2, axis=2))
    np.testing.assert_allclose(doubled.loss, scores.loss, rtol=0, atol=1e-6)
    rgb = model.score(np.repeat(images[..., None], 3, axis=3))
    np.testing.assert_allclose(rgb.loss, scores.loss, rtol=0, atol=1e-5)


def test_parts_scored_apart_and_pickled_give_the_verdict_of_one_run():
    files = files_of(FIXTURES / "drop-100")
    model = driftglass.Model.bundled()
    blobs = [Path(f).read_bytes() for f in files]
    whole = json.loads(driftglass.batch_tests(model, model.score(model.prepare(blobs, names=files))))
    bounds = [0, 13, 50, 100]
    parts = [
        pickle.loads(pickle.dumps(model.score(model.prepare(blobs[a:b], names=files[a:b]))))
        for a, b in zip(bounds, bounds[1:])
    ]
    joined = json.loads(driftglass.batch_tests(model, parts))
    assert joined == whole
    assert_same_tests(joined, cli_report(*files))


def test_a_colour_model_scores_rgb_arrays_and_files():
    model = driftglass.Model.load(ROOT / "web" / "demo" / "photos" / "model.dgm")
    assert model.channels == 3
    files = files_of(ROOT / "web" / "demo" / "photos" / "cast")[:8]
    prepared = model.prepare([Path(f).read_bytes() for f in files], names=files)
    rgb = prepared.images()
    assert rgb.shape == (8, model.side, model.side, 3)
    from_files = model.score(prepared)
    # The prepared pixels scored again as an array: the same network input, the same losses.
    from_array = model.score(rgb)
    np.testing.assert_allclose(from_array.loss, from_files.loss, rtol=0, atol=1e-6)


def test_a_model_loads_from_bytes_as_from_its_path():
    path = ROOT / "web" / "demo" / "photos" / "model.dgm"
    from_bytes, from_path = driftglass.Model.load(path.read_bytes()), driftglass.Model.load(path)
    assert from_bytes.sha256 == from_path.sha256
    patches = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(from_bytes.score(patches).loss, from_path.score(patches).loss)


def test_errors_are_exceptions_with_the_core_messages():
    with pytest.raises(driftglass.DriftglassError, match="loading the model"):
        driftglass.Model.load(b"not a model file")
    with pytest.raises(driftglass.DriftglassError, match="reading"):
        driftglass.Model.load("/nonexistent/model.dgm")
    model = driftglass.Model.bundled()
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        model.score(np.zeros((28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="names"):
        model.score(np.zeros((2, 28, 28), dtype=np.uint8), names=["one"])
    with pytest.raises(ValueError, match="polarity"):
        driftglass.Model.bundled(polarity="sideways")
    nan = np.full((1, 28, 28), np.nan, dtype=np.float32)
    assert model.score(nan).errors == [("0", "the image holds values that are not finite numbers")]
    # Floats in 0–255 are refused image by image; the others still score.
    mixed = np.stack([np.full((28, 28), 200.0), np.zeros((28, 28))])
    scored = model.score(mixed)
    assert len(scored.loss) == 1 and scored.errors[0][0] == "0" and "from 0 to 1" in scored.errors[0][1]
    # Images prepared for one model are not scored by another.
    blobs = [Path(f).read_bytes() for f in files_of(FIXTURES / "mnist-sample")]
    with pytest.raises(ValueError, match="prepared for another model"):
        model.score(driftglass.Model.bundled(polarity="invert").prepare(blobs))
    other = driftglass.Model.load(ROOT / "web" / "demo" / "photos" / "model.dgm")
    part = other.score(np.zeros((3, 64, 64, 3), dtype=np.uint8))
    with pytest.raises(driftglass.DriftglassError, match="scored with model"):
        driftglass.batch_tests(model, part)


def test_scoring_releases_the_gil_and_threads_agree():
    """A thread counts while another scores 20,000 digits: the count is read just before and just
    after the one `score` call, so with the GIL held through it the count could not move."""
    model = driftglass.Model.bundled()
    images = np.concatenate([read_idx(ROOT / "web" / "demo" / "mnist.idx")] * 100)
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    moved = []

    def score():
        before = ticks
        losses = model.score(images).loss
        moved.append(ticks - before)
        return losses

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: score(), range(2)))
    done.set()
    counter.join()
    np.testing.assert_array_equal(results[0], results[1])
    assert min(moved) > 100_000, moved


def test_thread_limit_keeps_the_numbers():
    model = driftglass.Model.bundled()
    images = read_idx(ROOT / "web" / "demo" / "mnist.idx")
    every = model.score(images).loss
    driftglass.set_threads(1)
    try:
        one = model.score(images).loss
    finally:
        driftglass.set_threads(0)
    np.testing.assert_array_equal(one, every)
