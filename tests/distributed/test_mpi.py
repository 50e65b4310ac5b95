"""Data-parallel training under a real ``mpiexec``: ranks agree with one process and with
each other, and a failing rank ends the whole job.

Skipped where mpi4py is not installed, unless ``NEUROBACK_REQUIRE_MPI=1`` (CI sets it):
then a missing MPI is a failure, so these tests cannot silently stop running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

DRIVER = Path(__file__).with_name("mpi_driver.py")
TIMEOUT = 120  # a hang fails here instead of blocking the suite


def _mpiexec() -> str:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        if os.environ.get("NEUROBACK_REQUIRE_MPI") == "1":
            pytest.fail('NEUROBACK_REQUIRE_MPI=1 but mpi4py is missing: pip install ".[mpi]"')
        pytest.skip('mpi4py is not installed (pip install ".[mpi]")')
    found = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which(
        "mpiexec"
    )
    if found is None:
        pytest.fail("mpi4py is installed but no mpiexec was found next to Python or on PATH")
    return found


def _run(out: Path, *args: str, ranks: int = 0) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(DRIVER), str(out), *args]
    if ranks:
        cmd = [_mpiexec(), "-n", str(ranks), *cmd, "--strategy", "mpi"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)


def _results(out: Path, rank: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays = np.load(out / f"rank{rank}.npz")
    return {k: arrays[k] for k in arrays.files}, json.loads((out / f"rank{rank}.json").read_text())


def _close(a: Any, b: Any, where: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _close(u, v, f"{where}[{i}]")
    else:
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=where)


CASES = {
    "sgd-momentum, partial last batch": ["--optimizer", "sgd-momentum"],
    "adam with clipping": ["--optimizer", "adam-clip"],
    "accumulation": ["--optimizer", "adam-clip", "--accumulate", "2", "--batch", "4"],
    "a rank with an empty share": ["--samples", "41"],  # the last batch: 1 sample
    "ranks built other weights": ["--seed-model", "5"],  # rank 0's are broadcast
}


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_two_ranks_equal_one_process(tmp_path: Path, args: list[str]) -> None:
    _mpiexec()
    single = _run(tmp_path / "one", *args)
    assert single.returncode == 0, single.stderr
    double = _run(tmp_path / "two", *args, ranks=2)
    assert double.returncode == 0, double.stderr
    ref_arrays, ref_facts = _results(tmp_path / "one", 0)
    for rank in (0, 1):
        arrays, facts = _results(tmp_path / "two", rank)
        assert facts["world"] == 2 and facts["global_step"] == ref_facts["global_step"]
        _close(facts["history"], ref_facts["history"], f"rank {rank} history")
        _close(facts["evaluate"], ref_facts["evaluate"], f"rank {rank} evaluate")
        assert arrays.keys() == ref_arrays.keys()
        for key in arrays:
            _close(arrays[key], ref_arrays[key], f"rank {rank} {key}")
    rank0, _ = _results(tmp_path / "two", 0)
    rank1, _ = _results(tmp_path / "two", 1)
    for key in rank0:  # the same bits on every rank, not merely close
        assert np.array_equal(rank0[key], rank1[key]), key


def test_a_stop_asked_on_one_rank_stops_every_rank_at_the_same_step(tmp_path: Path) -> None:
    _mpiexec()
    single = _run(tmp_path / "one", "--stop-on-rank", "0", "--fail-step", "8")
    assert single.returncode == 0, single.stderr
    double = _run(tmp_path / "two", "--stop-on-rank", "1", "--fail-step", "8", ranks=2)
    assert double.returncode == 0, double.stderr
    _same_run(tmp_path / "one", tmp_path / "two", 2)
    assert _results(tmp_path / "two", 0)[1]["global_step"] == 9  # stopped after step 8


def test_a_nonfinite_gradient_on_one_rank_skips_the_update_on_every_rank(tmp_path: Path) -> None:
    _mpiexec()
    single = _run(tmp_path / "one", "--nan-on-rank", "0", "--fail-step", "4")
    assert single.returncode == 0, single.stderr
    double = _run(tmp_path / "two", "--nan-on-rank", "1", "--fail-step", "4", ranks=2)
    assert double.returncode == 0, double.stderr
    _same_run(tmp_path / "one", tmp_path / "two", 2)
    for rank in (0, 1):
        assert _results(tmp_path / "two", rank)[1]["skipped"] == 1


def test_batchnorm_state_stays_identical_across_ranks(tmp_path: Path) -> None:
    # each rank normalizes with its own batch statistics (so results differ from one
    # process), but the running statistics are averaged at every update
    _mpiexec()
    proc = _run(tmp_path, "--batchnorm", "--batch", "16", ranks=2)
    assert proc.returncode == 0, proc.stderr
    rank0, rank1 = _results(tmp_path, 0)[0], _results(tmp_path, 1)[0]
    assert "w:1.running_var" in rank0
    for key in rank0:
        assert np.array_equal(rank0[key], rank1[key]), key


def test_three_ranks_keep_identical_weights(tmp_path: Path) -> None:
    _mpiexec()
    proc = _run(tmp_path, "--optimizer", "adam-clip", "--batch", "9", ranks=3)
    assert proc.returncode == 0, proc.stderr
    results = [_results(tmp_path, r)[0] for r in range(3)]
    for key in results[0]:
        assert all(np.array_equal(results[0][key], other[key]) for other in results[1:]), key


def _mpi_ranks(ranks: int) -> int:
    """``_run``'s ranks: 0 runs one plain process (the single strategy)."""
    return ranks if ranks > 1 else 0


def _same_run(a: Path, b: Path, ranks_b: int) -> None:
    ref_arrays, ref_facts = _results(a, 0)
    for rank in range(ranks_b):
        arrays, facts = _results(b, rank)
        assert facts["global_step"] == ref_facts["global_step"]
        _close(facts["history"], ref_facts["history"], f"rank {rank} history")
        for key in ref_arrays:
            _close(arrays[key], ref_arrays[key], f"rank {rank} {key}")


@pytest.mark.parametrize(("saved_on", "resumed_on"), [(2, 1), (1, 2)], ids=["2->1", "1->2"])
def test_a_checkpoint_resumes_on_another_number_of_ranks(
    tmp_path: Path, saved_on: int, resumed_on: int
) -> None:
    _mpiexec()
    # mid-epoch and mid accumulation window: the epoch sums and the pending gradients
    # are the whole run's, whatever the number of ranks that wrote them
    common = ["--optimizer", "adam-clip", "--accumulate", "2", "--batch", "4"]
    whole = _run(tmp_path / "whole", *common)
    assert whole.returncode == 0, whole.stderr
    first = _run(tmp_path / "first", *common, "--save-at-step", "8", ranks=_mpi_ranks(saved_on))
    assert first.returncode == 0, first.stderr
    checkpoint = tmp_path / "first" / "mid.safetensors"
    assert checkpoint.is_file()
    resumed = _run(
        tmp_path / "second", *common, "--resume", str(checkpoint), ranks=_mpi_ranks(resumed_on)
    )
    assert resumed.returncode == 0, resumed.stderr
    _same_run(tmp_path / "whole", tmp_path / "second", resumed_on)


def test_a_killed_rank_leaves_the_last_checkpoint_whole_to_resume_from(tmp_path: Path) -> None:
    _mpiexec()
    checkpoint = tmp_path / "ckpt.safetensors"
    whole = _run(tmp_path / "whole", "--epochs", "4", "--checkpoint", str(tmp_path / "w.st"))
    assert whole.returncode == 0, whole.stderr
    killed = _run(
        tmp_path / "killed",
        "--epochs", "4", "--checkpoint", str(checkpoint),
        "--kill-on-rank", "1", "--fail-step", "15",  # in the third epoch (6 steps each)
        ranks=2,
    )  # fmt: skip
    assert killed.returncode != 0 and checkpoint.is_file()
    resumed = _run(
        tmp_path / "resumed",
        "--epochs", "4", "--checkpoint", str(checkpoint), "--resume", str(checkpoint),
        ranks=2,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    _same_run(tmp_path / "whole", tmp_path / "resumed", 2)


@pytest.mark.parametrize("how", ["--raise-on-rank", "--kill-on-rank"])
def test_a_failing_rank_ends_the_whole_job(tmp_path: Path, how: str) -> None:
    _mpiexec()
    start = time.monotonic()
    proc = _run(tmp_path, how, "1", "--epochs", "50", ranks=2)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert elapsed < 60, f"the job took {elapsed:.0f} s to end"
    assert not (tmp_path / "rank0.npz").exists()  # rank 0 did not finish training alone
    if how == "--raise-on-rank":
        assert "planted failure on rank 1" in proc.stderr
        assert "aborting the whole MPI job" in proc.stderr


def test_a_batch_that_does_not_split_evenly_is_refused(tmp_path: Path) -> None:
    _mpiexec()
    proc = _run(tmp_path, "--batch", "7", ranks=2)
    assert proc.returncode != 0
    assert "batch_size=7 is the global batch, split across 2 processes" in proc.stderr


def test_the_command_line_trains_under_mpiexec_and_writes_once(tmp_path: Path) -> None:
    mpiexec = _mpiexec()
    script = Path(sys.executable).with_name("neuroback")
    config = tmp_path / "run.toml"
    config.write_text(
        """
[data]
dataset = "two_spirals"
options = {n = 200, noise = 0.2}
split = {val = 0.1, test = 0.2, seed = 0}

[model]
layers = [
  {type = "Dense", config = {in_features = 2, out_features = 16}},
  {type = "Tanh"},
  {type = "Dense", config = {in_features = 16, out_features = 2}},
]

[loss]
type = "SoftmaxCrossEntropy"

[optimizer]
type = "Adam"
config = {lr = 0.01}

[trainer]
epochs = 3
batch_size = 16
metrics = ["accuracy"]
strategy = "mpi"
"""
    )
    proc = subprocess.run(
        [mpiexec, "-n", "2", str(script), "train", str(config), "-q", "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("test accuracy") == 1  # rank 0 alone reports
    assert proc.stdout.count("training Sequential") == 1
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "config.toml",
        "model.safetensors",
        "training.png",
    ]
