"""Scoring at scale, on 20,000 PNGs, against one `driftglass score --json` run over them:
the CLI's shards joined by `merge` must give the same report, and Ray Data on a local cluster (a
head and two worker nodes on 127.0.0.1, stopped at the end) scoring with
examples/ray_score.py must give the same verdict, test statistics and per-image losses.
Throughput with one and two workers is printed (a benchmark, not a timed test)."""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

# Loopback only: without this Ray resolves 127.0.0.1 to the machine's address, which a sandbox
# may not let a process connect to. Read when Ray is imported.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "crates" / "driftglass-py" / "examples"
sys.path.insert(0, str(EXAMPLES))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ray_score  # noqa: E402
from test_driftglass import CLI, assert_same_tests  # noqa: E402

DATA = os.environ.get("DRIFTGLASS_DATA", str(ROOT.parent / "shared" / "data"))
COUNT = int(os.environ.get("DRIFTGLASS_RAY_FILES", "20000"))


@pytest.fixture(scope="module")
def pngs():
    with tempfile.TemporaryDirectory(prefix="driftglass-ray-") as folder:
        subprocess.run([CLI, "export-pngs", "--data", DATA, "--set", "train", "--count", str(COUNT), "-o", folder],
                       check=True, capture_output=True)
        yield sorted(str(p) for p in Path(folder).iterdir())


@pytest.fixture(scope="module")
def cluster():
    # The workers unpickle ray_score.Scorer by reference: they import it from the examples.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EXAMPLES), os.environ.get("PYTHONPATH")]))
    local = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    for _ in range(2):
        local.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    local.wait_for_nodes()
    ray.init(address=local.address)
    try:
        yield local
    finally:
        ray.shutdown()
        local.shutdown()


@pytest.fixture(scope="module")
def cli_run(pngs):
    """`driftglass score --json` over all the files, and its seconds."""
    started = time.perf_counter()
    run = subprocess.run([CLI, "score", "--json", *pngs], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout), seconds


def test_cli_shards_merged_give_one_runs_report(pngs, cli_run, tmp_path):
    """The same files in three shards (`score --shard I/3 --summary`), joined by `merge`."""
    want, _ = cli_run
    for index in range(3):
        subprocess.run([CLI, "score", "--shard", f"{index}/3", "--summary", str(tmp_path / f"part-{index}.json"), *pngs],
                       check=True, capture_output=True)
    merge = subprocess.run([CLI, "merge", "--json", *sorted(map(str, tmp_path.glob("part-*.json")))],
                           capture_output=True, text=True)
    assert merge.returncode == 0, merge.stderr[-2000:]
    merged = json.loads(merge.stdout)
    assert_same_tests(merged, want)
    assert merged["images"] == want["images"]
    print(f"\nshards: {len(pngs)} PNGs in 3 shards, merged: verdict {merged['batch']['tests']['verdict']}, "
          f"every image's report equal to one run's")


def test_ray_scores_like_the_cli(pngs, cluster, cli_run):
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert len(nodes) == 3 and all(n["NodeManagerAddress"] == "127.0.0.1" for n in nodes)
    want, cli_seconds = cli_run
    lines = [f"`driftglass score --json` (test build, every core, one process, JSON printed): {len(pngs) / cli_seconds:.0f} images/s"]
    for workers in (1, 2):
        report, seconds = ray_score.score_files(pngs, workers=workers)
        assert_same_tests(report, want)
        ours = np.array([i["loss"] for i in report["images"]])
        theirs = np.array([i["loss"] for i in want["images"]])
        largest = float(np.max(np.abs(ours - theirs)))
        assert largest <= 1e-6, largest
        assert [i["name"] for i in report["images"]] == [i["name"] for i in want["images"]]
        lines.append(f"{workers} worker(s): {len(pngs)} PNGs in {seconds:.1f} s, {len(pngs) / seconds:.0f} images/s, "
                     f"verdict {report['batch']['tests']['verdict']}, largest loss difference from the CLI {largest:.1e}")
    print("\nRay Data on a local cluster (head + 2 workers, 127.0.0.1): " + "; ".join(lines))
