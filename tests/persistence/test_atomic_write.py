"""write_atomically: the file at the path is always the complete old or the complete new one.

The failures here are real ones, not mocks: a file size limit set with setrlimit, a
process killed with SIGKILL in the middle of a write, a directory the writer may not
create files in.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuroback.atomic_write import TEMP_SUFFIX, write_atomically
from neuroback.errors import SaveError

OLD = b"old model, complete\n" * 50


def _temps(directory: Path, target_name: str) -> list[str]:
    """The temporaries of ``target_name`` in ``directory``."""
    return sorted(
        name
        for name in os.listdir(directory)
        if name.startswith(f".{target_name}.") and name.endswith(TEMP_SUFFIX)
    )


def _run_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    return child.pid


def test_writes_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    assert write_atomically(target, [b"first"]) == target.resolve()
    assert target.read_bytes() == b"first"

    chunks = [b"abc", bytearray(b"def"), memoryview(b"ghi"), b""]
    result = write_atomically(str(target), chunks)
    assert result == target.resolve()
    assert target.read_bytes() == b"abcdefghi"
    assert os.listdir(tmp_path) == ["model.bin"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_exception_from_the_chunks_keeps_the_old_file(
    tmp_path: Path, error: type[BaseException]
) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(OLD)

    def chunks() -> Iterator[bytes]:
        yield b"x" * 100_000
        yield b"y" * 100_000
        raise error("half-way")

    with pytest.raises(error, match="half-way"):
        write_atomically(target, chunks())
    assert target.read_bytes() == OLD
    assert os.listdir(tmp_path) == ["model.bin"]


def test_a_real_file_size_limit_gives_save_error_efbig(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(OLD)
    code = """
import errno, resource, signal, sys
from neuroback.atomic_write import write_atomically
from neuroback.errors import SaveError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = 1 << 20
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    write_atomically(sys.argv[1], (bytes(256 << 10) for _ in range(16)))  # 4 MiB
except BaseException as exc:
    print(type(exc).__name__, errno.errorcode.get(exc.errno) if isinstance(exc, OSError) else "")
    print(exc)
else:
    print("no error")
"""
    result = _run_child(code, str(target))
    assert result.returncode == 0, result.stderr
    first, _, message = result.stdout.partition("\n")
    assert first == "SaveError EFBIG", result.stdout + result.stderr
    assert str(target.resolve()) in message
    assert "previous file at that path is untouched" in message
    assert "file size limit" in message
    assert target.read_bytes() == OLD
    assert os.listdir(tmp_path) == ["model.bin"]


def test_sigkill_mid_write_keeps_the_old_file_and_the_next_write_cleans_up(
    tmp_path: Path,
) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(OLD)
    # 256 KiB every 10 ms: the write would last about 40 s if the child were not killed.
    code = """
import sys, time
from neuroback.atomic_write import write_atomically

def chunks():
    for _ in range(4000):
        yield bytes(256 << 10)
        time.sleep(0.01)

write_atomically(sys.argv[1], chunks())
"""
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if child.poll() is not None:
                _, err = child.communicate()
                pytest.fail(f"the writer exited ({child.returncode}) before being killed: {err!r}")
            temps = _temps(tmp_path, "model.bin")
            sizes = [os.path.getsize(tmp_path / n) for n in temps if (tmp_path / n).exists()]
            if sizes and max(sizes) >= 4 << 20:  # written progressively, chunk by chunk
                break
            if time.monotonic() > deadline:
                pytest.fail(f"no temporary of 4 MiB appeared within 30 s; found {temps}")
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=60)  # reaped: its pid is no longer a running process
    assert child.returncode == -signal.SIGKILL

    assert target.read_bytes() == OLD
    left = _temps(tmp_path, "model.bin")
    assert len(left) == 1
    assert left[0].startswith(f".model.bin.{child.pid}.")

    assert write_atomically(target, [b"new"]) == target.resolve()
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["model.bin"]


def test_temporaries_of_live_processes_and_other_targets_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(OLD)
    dead = _dead_pid()
    live_same = f".model.bin.{os.getpid()}.{'a' * 16}{TEMP_SUFFIX}"
    dead_other = f".other.bin.{dead}.{'b' * 16}{TEMP_SUFFIX}"
    dead_prefixed = f".model.bin.1.{dead}.{'c' * 16}{TEMP_SUFFIX}"  # target "model.bin.1"
    dead_same = f".model.bin.{dead}.{'d' * 16}{TEMP_SUFFIX}"
    for name in (live_same, dead_other, dead_prefixed, dead_same):
        (tmp_path / name).write_bytes(b"partial")

    write_atomically(target, [b"new"])
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["model.bin", live_same, dead_other, dead_prefixed]
    )


def test_a_missing_directory_is_not_created(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "model.bin"
    with pytest.raises(SaveError) as info:
        write_atomically(target, [b"new"])
    message = str(info.value)
    assert f"its directory {tmp_path / 'missing'} does not exist" in message
    assert "Create it first" in message
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == str(target)
    assert isinstance(info.value, OSError)
    assert not (tmp_path / "missing").exists()


def test_a_directory_as_the_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "checkpoints"
    target.mkdir()
    with pytest.raises(SaveError) as info:
        write_atomically(target, [b"new"])
    message = str(info.value)
    assert f"Cannot write {target}: it is a directory, not a file" in message
    assert info.value.errno == errno.EISDIR
    assert os.listdir(target) == []
    assert os.listdir(tmp_path) == ["checkpoints"]


def test_no_permission_on_the_directory_gives_save_error_eacces() -> None:
    # Root ignores the directory's mode, so the child drops to uid/gid 65534 first. The
    # directory lives under the system temp dir, whose ancestors that uid can traverse.
    directory = Path(tempfile.mkdtemp(prefix="neuroback-eacces-"))
    try:
        target = directory / "model.bin"
        target.write_bytes(OLD)
        directory.chmod(0o555)
        code = """
import errno, os, sys
from neuroback.atomic_write import write_atomically
from neuroback.errors import SaveError

if os.geteuid() == 0:
    try:
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
    except PermissionError as exc:
        print("cannot-drop", exc)
        sys.exit()
try:
    write_atomically(sys.argv[1], [b"new"])
except BaseException as exc:
    print(type(exc).__name__, errno.errorcode.get(exc.errno) if isinstance(exc, OSError) else "")
    print(exc)
else:
    print("no error")
"""
        result = _run_child(code, str(target))
        assert result.returncode == 0, result.stderr
        if result.stdout.startswith("cannot-drop"):
            pytest.skip(f"running as root and cannot drop privileges: {result.stdout.strip()}")
        first, _, message = result.stdout.partition("\n")
        assert first == "SaveError EACCES", result.stdout + result.stderr
        assert "previous file at that path is untouched" in message
        assert f"There is no permission to create files in {directory.resolve()}" in message
        assert target.read_bytes() == OLD
        assert os.listdir(directory) == ["model.bin"]
    finally:
        directory.chmod(0o755)
        shutil.rmtree(directory)
