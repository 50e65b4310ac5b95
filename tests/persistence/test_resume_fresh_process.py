"""Resuming in a fresh process, after the first one died without any cleanup.

Every run here is a real child process (``resume_driver.py``) with the BLAS threads pinned
to one: a reference run trains uninterrupted; a second run writes a checkpoint and ends
itself with ``os._exit(0)`` mid-epoch (with and without a pending accumulation window) or
at an epoch boundary; a third, fresh process resumes from that file. The weights, the
optimizer state (slots, step counts, transform state, hyperparameters as the per-step
schedule left them), the generators, the counters and the History must be exactly the
reference's, for float32 and float64, SGD with momentum and Adam with gradient clipping,
with shuffling, dropout, BatchNorm and a partial last batch.

Then two real failures while writing a checkpoint: a SIGKILL while the temporary file of
the new checkpoint grows, and a file size limit (``RLIMIT_FSIZE``) that the new
checkpoint exceeds. Either way the previous checkpoint stays whole and resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.atomic_write import TEMP_SUFFIX

DRIVER = Path(__file__).with_name("resume_driver.py")
TIMEOUT = 180  # seconds per child: generous, an import and a few dozen tiny steps

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGKILL, RLIMIT_FSIZE and SIGXFSZ are POSIX only"
)


def _env() -> dict[str, str]:
    """The parent's environment with the BLAS threads pinned (the same in every child)."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _command(*args: Any) -> list[str]:
    return [sys.executable, str(DRIVER), *map(str, args)]


def _describe(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"{' '.join(result.args)}\nexit status {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def _run(*args: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        _command(*args), env=_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    if result.returncode != 0:
        pytest.fail(f"the child process failed:\n{_describe(result)}")
    return result


def _compare(reference: Path, resumed: Path) -> None:
    """Every array equal (dtype, shape, values) and every other value ==."""
    with np.load(reference) as ref, np.load(resumed) as res:
        assert sorted(res.files) == sorted(ref.files), "the states hold other arrays"
        problems = []
        for key in sorted(ref.files):
            if key == "meta":
                continue
            a, b = ref[key], res[key]
            if a.dtype != b.dtype or a.shape != b.shape:
                problems.append(f"{key}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
            elif not np.array_equal(a, b):
                diff = np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))
                problems.append(f"{key}: differs, max |difference| {diff:.3g}")
        ref_meta, res_meta = json.loads(ref["meta"].item()), json.loads(res["meta"].item())
    assert not problems, "arrays that differ from the uninterrupted run:\n" + "\n".join(problems)
    for part in ("optimizer", "trainer", "callbacks", "history", "trainer_history"):
        assert res_meta[part] == ref_meta[part], (
            f"{part} differs from the uninterrupted run:\n"
            f"resumed:   {json.dumps(res_meta[part], sort_keys=True)}\n"
            f"reference: {json.dumps(ref_meta[part], sort_keys=True)}"
        )
    assert res_meta == ref_meta


# -- the exactness matrix ---------------------------------------------------------------------
DTYPES = ("float32", "float64")
OPTIMIZERS = ("sgd", "adam")  # SGD(lr=0.05, momentum=0.9); Adam(lr=0.01) + ClipByGlobalNorm(1.0)

# 50 samples in batches of 8: 7 batches per epoch (the last of 2), 3 epochs. With
# accumulate_steps=2 an epoch has 3 updates of 2 micro-batches and one of the last one.
#: name: (accumulate_steps, the driver's arguments, where the dying run must have been)
WHERE = {
    # after 3 micro-batches of epoch 1: an accumulation window is pending (1 of 2)
    "mid_epoch_pending_window": (
        2,
        ("--at-step", 10),
        {"epoch": 1, "batch_step": 10, "global_step": 5, "pending": 1, "history_rows": 1},
    ),
    "mid_epoch": (
        1,
        ("--at-step", 11),
        {"epoch": 1, "batch_step": 11, "global_step": 11, "pending": 0, "history_rows": 1},
    ),
    # on_epoch_end of epoch 1, after the window of its last micro-batch was flushed
    "epoch_boundary": (
        2,
        ("--at-epoch", 1),
        {"epoch": 2, "batch_step": 14, "global_step": 8, "pending": 0, "history_rows": 2},
    ),
}
ACCUMULATES = sorted({accumulate for accumulate, _, _ in WHERE.values()})


def _case(dtype: str, opt: str, accumulate: int) -> str:
    return f"{dtype}:{opt}:{accumulate}"


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted runs, one fresh process training each case in turn."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    cases = [_case(d, o, a) for d in DTYPES for o in OPTIMIZERS for a in ACCUMULATES]
    _run("full", *[arg for case in cases for arg in ("--case", case)], "--out-dir", folder)
    for dtype in DTYPES:
        for opt in OPTIMIZERS:
            for accumulate in ACCUMULATES:
                path = folder / f"{dtype}-{opt}-{accumulate}.npz"
                with np.load(path) as ref:
                    meta = json.loads(ref["meta"].item())
                    weights = [ref[k] for k in ref.files if k.startswith("model/")]
                # the reference really is what the matrix claims: all epochs, this dtype
                assert [row["epoch"] for row in meta["history"]] == [0, 1, 2]
                assert meta["trainer"]["global_step"] == (21 if accumulate == 1 else 12)
                assert all(w.dtype == np.dtype(dtype) for w in weights), path
    return folder


@pytest.mark.parametrize("where", list(WHERE))
@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dying_and_resuming_in_a_fresh_process_gives_the_uninterrupted_run(
    tmp_path: Path, references: Path, dtype: str, opt: str, where: str
) -> None:
    accumulate, die_at, expected = WHERE[where]
    case = _case(dtype, opt, accumulate)
    checkpoint = tmp_path / "run.ckpt"
    not_written = tmp_path / "died-too-late.npz"

    died = _run("die", "--case", case, "--checkpoint", checkpoint, "--out", not_written, *die_at)
    assert not not_written.exists(), (
        f"the dying process went on to the end of fit:\n{_describe(died)}"
    )
    assert checkpoint.is_file(), f"no checkpoint was written:\n{_describe(died)}"
    lines = died.stdout.splitlines()
    assert len(lines) == 1, f"expected one line before os._exit:\n{_describe(died)}"
    assert json.loads(lines[0]) == expected, f"it died elsewhere:\n{_describe(died)}"
    assert sorted(os.listdir(tmp_path)) == ["run.ckpt"]  # no temporary left

    resumed = tmp_path / "resumed.npz"
    _run("resume", "--case", case, "--checkpoint", checkpoint, "--out", resumed)
    _compare(references / f"{dtype}-{opt}-{accumulate}.npz", resumed)


# -- SIGKILL while a checkpoint is written ----------------------------------------------------
def _pump(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _wait_for_line(
    lines: queue.Queue[str | None],
    wanted: str,
    seen: list[str],
    child: subprocess.Popen[str],
    err_path: Path,
) -> None:
    deadline = time.monotonic() + TIMEOUT
    while wanted not in seen:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            pytest.fail(f"the child did not print {wanted!r} within {TIMEOUT} s; it said {seen}")
        if line is None:
            child.wait(timeout=TIMEOUT)
            pytest.fail(
                f"the child ended ({child.returncode}) before printing {wanted!r}; it said "
                f"{seen}\nstderr:\n{err_path.read_text()}"
            )
        seen.append(line)


def _state_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return sorted(a) == sorted(b) and all(
        a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a
    )


@pytest.fixture
def big_tmp_path(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, emptied afterwards: pytest keeps the last runs' folders, and these hold
    some 150 MB."""
    yield tmp_path
    for entry in tmp_path.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def test_sigkill_while_writing_a_checkpoint_leaves_the_previous_one_to_resume_from(
    big_tmp_path: Path,
) -> None:
    tmp_path = big_tmp_path
    folder = tmp_path / "run"
    folder.mkdir()
    target = folder / "run.ckpt"
    err_path = tmp_path / "child.stderr"
    threshold = 1 << 20  # the temporary of B must have grown past 1 MiB (B is 48 MiB)
    with open(err_path, "w") as err:
        child = subprocess.Popen(
            _command("kill-child", "--dir", folder),
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(child.stdout, lines), daemon=True).start()
    seen: list[str] = []
    temp_name = re.compile(
        rf"\.{re.escape(target.name)}\.{child.pid}\.[0-9a-f]{{16}}{re.escape(TEMP_SUFFIX)}"
    )
    caught: tuple[str, int] | None = None
    try:
        _wait_for_line(lines, "A written", seen, child, err_path)
        deadline = time.monotonic() + TIMEOUT
        while caught is None:
            if child.poll() is not None:
                pytest.fail(
                    f"the child ended ({child.returncode}) before its temporary of B was seen "
                    f"past {threshold} bytes: the write was too fast to catch\n"
                    f"stderr:\n{err_path.read_text()}"
                )
            for entry in os.scandir(folder):
                if temp_name.fullmatch(entry.name):
                    try:
                        size = entry.stat().st_size
                    except FileNotFoundError:  # renamed in the meantime: the next check fails
                        continue
                    if size >= threshold:
                        os.kill(child.pid, signal.SIGKILL)
                        caught = (entry.name, size)
                        break
            if time.monotonic() > deadline:
                pytest.fail(f"no temporary of B grew past {threshold} bytes in {TIMEOUT} s")
            time.sleep(0.0005)
    finally:
        if child.poll() is None and caught is None:
            child.kill()
        child.wait(timeout=TIMEOUT)
    assert child.returncode == -signal.SIGKILL, err_path.read_text()
    while (line := lines.get(timeout=TIMEOUT)) is not None:
        seen.append(line)
    assert "B written" not in seen, f"the kill landed after B was complete: {seen}"

    # the file at the path is checkpoint A, byte for byte, and B's temporary is left over
    a_copy = folder / "a-copy.ckpt"
    assert target.read_bytes() == a_copy.read_bytes(), (
        "the file at the path is not checkpoint A: the write of B completed before the kill "
        f"(the temporary was seen at {caught[1]} bytes)"
    )
    left = sorted(n for n in os.listdir(folder) if n.endswith(TEMP_SUFFIX))
    assert left == [caught[0]], left
    assert os.path.getsize(folder / caught[0]) >= threshold

    # it loads as a model, equal to the model at A
    with np.load(folder / "a-state.npz") as saved:
        at_a = {k: saved[k] for k in saved.files}
    assert _state_equal(nb.load(target).state_dict(), at_a)

    # and it resumes, in a fresh process, exactly as A's clean copy does in another one
    os.unlink(folder / caught[0])  # disk: keep at most ~200 MB at any time
    os.unlink(folder / "a-state.npz")
    outs = {name: tmp_path / f"resumed-from-{name}.npz" for name in ("killed", "copy")}
    sources = {"killed": target, "copy": a_copy}
    children = {
        name: subprocess.Popen(
            _command("big-resume", "--checkpoint", sources[name], "--out", outs[name]),
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in outs
    }
    try:
        for name, proc in children.items():
            out, err = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, (
                f"resuming from {name} failed ({proc.returncode}):\n{out}\n{err}"
            )
    finally:
        for proc in children.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=TIMEOUT)
    with np.load(outs["killed"]) as resumed:
        meta = json.loads(resumed["meta"].item())
        assert [row["epoch"] for row in meta["history"]] == [0, 1]
        assert meta["trainer"]["epoch"] == 2
        assert not _state_equal({"w": resumed["model/0.W"]}, {"w": at_a["0.W"]})  # it trained
    _compare(outs["copy"], outs["killed"])


# -- a real file size limit ------------------------------------------------------------------
def test_a_checkpoint_over_the_file_size_limit_raises_efbig_and_keeps_the_previous_one(
    tmp_path: Path,
) -> None:
    folder, side = tmp_path / "run", tmp_path / "side"
    folder.mkdir()
    side.mkdir()
    target = folder / "run.ckpt"
    result = _run("disk-full", "--dir", folder, "--side", side)
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["size_a"] < report["limit"], report  # A fits, the big one (3 MiB) cannot
    assert report["error"] == "SaveError", _describe(result)
    assert report["is_save_error"], report
    assert report["errno"] == "EFBIG", report
    assert str(target.resolve()) in report["message"], report["message"]

    # the path still holds A, whole; no temporary is left
    assert os.listdir(folder) == ["run.ckpt"]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == report["sha256_a"]
    with np.load(side / "a-state.npz") as saved:
        at_a = {k: saved[k] for k in saved.files}
    assert _state_equal(nb.load(target).state_dict(), at_a)
    assert report["resumed_epochs"] == [0, 1]  # the child resumed from it after the failure
