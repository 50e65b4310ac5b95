"""Data-parallel training over MPI (``Trainer(strategy="mpi")``), through mpi4py.

Every rank runs the same script on its share of each global batch; gradients are summed
with ``Allreduce`` (see :mod:`neuroback.strategy` for why the sum of the scaled local
gradients is the single-process gradient). Launch with ``mpiexec``::

    mpiexec -n 4 python train.py               # an exception on any rank aborts the job
    mpiexec -n 4 python -m mpi4py train.py     # the same, through mpi4py's runner

mpi4py and an MPI come with the ``mpi`` extra (``pip install "neuroback[mpi]"``: the
``mpich`` wheel brings ``mpiexec``). Host arrays go straight to MPI; arrays on another
backend (CuPy) are copied through the host (a CUDA-aware MPI or NCCL path is not built
yet, and this one has not run on a GPU).
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, ClassVar, final

import numpy as np

from neuroback import Array, Backend, Strategy, checks

__all__ = ["MPIStrategy"]


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            'The "mpi" strategy needs mpi4py and an MPI library, which are not installed '
            f'({exc}). Install the extra: pip install "neuroback[mpi]" (mpi4py and the '
            "mpich wheel, which brings mpiexec), or use strategy='single'."
        ) from exc
    return MPI


@final
class MPIStrategy(Strategy):
    """Data parallelism over ``MPI.COMM_WORLD``.

    Parameters
    ----------
    bucket_mb:
        Gradients are summed in flat buckets of at most this many megabytes (one
        ``Allreduce`` each), not one message per parameter.
    abort_on_error:
        Install an exception hook that aborts the whole job (``COMM_WORLD.Abort``) when
        an exception escapes on any rank, so the other ranks never wait forever in a
        collective operation. On by default.
    """

    #: The hook installed by the first MPIStrategy of the process (one is enough).
    _hook_installed: ClassVar[bool] = False

    def __init__(self, *, bucket_mb: float = 25.0, abort_on_error: bool = True) -> None:
        self.bucket_mb = checks.positive(bucket_mb, "MPIStrategy bucket_mb")
        if not isinstance(abort_on_error, bool):
            raise TypeError(f"abort_on_error must be True or False, got {abort_on_error!r}.")
        self.abort_on_error = abort_on_error
        self._MPI = _mpi()
        self._comm = self._MPI.COMM_WORLD
        if abort_on_error:
            self._install_abort_hook()

    @property
    def rank(self) -> int:
        return int(self._comm.Get_rank())

    @property
    def world_size(self) -> int:
        return int(self._comm.Get_size())

    @property
    def bucket_elements(self) -> int:
        """Elements of a float32 bucket (a float64 one holds half as many bytes' worth)."""
        return max(1, int(self.bucket_mb * 1e6) // 4)

    # -- collectives --------------------------------------------------------------------
    def allreduce_sum(self, array: np.ndarray) -> np.ndarray:
        send = np.array(array, order="C")  # a copy; 0-d stays 0-d (ascontiguousarray: 1-d)
        out = np.empty_like(send)
        self._comm.Allreduce(send, out, op=self._MPI.SUM)
        return out

    def allreduce_sum_into(self, array: Array, backend: Backend) -> None:
        if isinstance(array, np.ndarray) and array.flags.c_contiguous:
            self._comm.Allreduce(self._MPI.IN_PLACE, array, op=self._MPI.SUM)
        else:
            super().allreduce_sum_into(array, backend)

    def broadcast(self, obj: Any) -> Any:
        return self._comm.bcast(obj, root=0)

    def allgather(self, obj: Any) -> list[Any]:
        return list(self._comm.allgather(obj))

    def barrier(self) -> None:
        self._comm.Barrier()

    def abort(self, code: int = 1) -> None:
        """End every rank of the job now (``MPI_Abort``)."""
        self._comm.Abort(code)

    # -- failures -----------------------------------------------------------------------
    def _install_abort_hook(self) -> None:
        if MPIStrategy._hook_installed:
            return
        previous = sys.excepthook
        comm = self._comm

        def abort_job(
            kind: type[BaseException], value: BaseException, tb: TracebackType | None
        ) -> None:
            previous(kind, value, tb)  # the traceback first, on this rank's stderr
            sys.stderr.write(
                f"neuroback: rank {comm.Get_rank()} of {comm.Get_size()} raised "
                f"{kind.__name__}; aborting the whole MPI job so no rank waits forever.\n"
            )
            sys.stderr.flush()
            time.sleep(0.5)  # mpiexec forwards output asynchronously: let it arrive first
            comm.Abort(1)

        sys.excepthook = abort_job
        MPIStrategy._hook_installed = True

    def config(self) -> dict[str, Any]:
        return {"bucket_mb": self.bucket_mb, "abort_on_error": self.abort_on_error}
