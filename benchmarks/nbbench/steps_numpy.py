"""The hand-written NumPy steps: ``NumpySGD`` (the ``numpy`` row), ``NumpyAdam``
(``numpy-adam``) and ``Floor`` (only the unavoidable matrix products; with ``torch``, the
``torch-floor`` row: the same products on the same buffers through ``torch.matmul``).
NumPy is passed in as ``np`` (the worker imports it after pinning the thread count)."""

from __future__ import annotations

from typing import Any

from .sizes import ADAM_BETAS, ADAM_EPS, ADAM_LR, SGD_LR


class NumpySGD:
    """The hand-tuned NumPy step: every array preallocated, every op ``out=``/in place.

    Forward: ``np.matmul(h, W, out=Z)``, then bias add and ReLU in place on that buffer
    (NumPy has no single fused kernel for them; two in-place passes, no temporaries).
    MSE as neuroback computes it (gradient ``2 (pred - y) / size``), the loss as one
    BLAS dot. Backward: ``a.T @ dy`` into the gradient buffers, ``dy @ W.T`` into
    preallocated buffers (not for the first layer), the ReLU mask into a preallocated
    boolean buffer. SGD in place; no zero_grad pass (the buffers are overwritten).
    """

    def __init__(self, np: Any, weights: list, batch: int) -> None:
        f32 = np.float32
        self.np = np
        self.W = [np.array(w, dtype=f32) for w, _ in weights]
        self.b = [np.array(b, dtype=f32) for _, b in weights]
        self.dW = [np.empty_like(w) for w in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.Z = [np.empty((batch, w.shape[1]), dtype=f32) for w in self.W]
        self.DX = [None] + [np.empty((batch, w.shape[0]), dtype=f32) for w in self.W[1:]]
        self.M = [None] + [np.empty((batch, w.shape[0]), dtype=bool) for w in self.W[1:]]
        self.D = np.empty((batch, self.W[-1].shape[1]), dtype=f32)

    def forward_backward(self, x: Any, y: Any) -> Any:
        np = self.np
        W, b, Z = self.W, self.b, self.Z
        n = len(W)
        h = x
        for i in range(n):
            z = Z[i]
            np.matmul(h, W[i], out=z)
            z += b[i]
            if i < n - 1:
                np.maximum(z, 0, out=z)
            h = z
        d = self.D
        np.subtract(h, y, out=d)
        flat = d.reshape(-1)
        loss = np.dot(flat, flat) / flat.size
        d *= 2.0 / d.size
        dy = d
        for i in range(n - 1, -1, -1):
            a_in = x if i == 0 else Z[i - 1]
            np.matmul(a_in.T, dy, out=self.dW[i])
            np.sum(dy, axis=0, out=self.db[i])
            if i > 0:
                dx, mask = self.DX[i], self.M[i]
                np.matmul(dy, W[i].T, out=dx)
                np.greater(a_in, 0, out=mask)
                np.multiply(dx, mask, out=dx)
                dy = dx
        return loss

    def params(self) -> list[tuple[Any, Any]]:
        """(parameter, gradient) pairs, W and b of every layer."""
        out = []
        for i in range(len(self.W)):
            out += [(self.W[i], self.dW[i]), (self.b[i], self.db[i])]
        return out

    def step(self, x: Any, y: Any) -> Any:
        loss = self.forward_backward(x, y)
        for i in range(len(self.W)):
            self.dW[i] *= SGD_LR
            self.W[i] -= self.dW[i]
            self.db[i] *= SGD_LR
            self.b[i] -= self.db[i]
        return loss

    def weights(self) -> list[tuple[Any, Any]]:
        return [(w.copy(), b.copy()) for w, b in zip(self.W, self.b, strict=True)]


class NumpyAdam(NumpySGD):
    """The same forward/backward, then Adam in place in PyTorch's arrangement::

        m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²
        p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)

    with one preallocated scratch buffer per parameter (no temporaries).
    """

    def __init__(self, np: Any, weights: list, batch: int) -> None:
        super().__init__(np, weights, batch)
        self.t = 0
        self.slots = [
            (np.zeros_like(p), np.zeros_like(p), np.empty_like(p)) for p, _ in self.params()
        ]

    def step(self, x: Any, y: Any) -> Any:
        np = self.np
        loss = self.forward_backward(x, y)
        b1, b2 = ADAM_BETAS
        self.t += 1
        step_size = ADAM_LR / (1.0 - b1**self.t)
        bc2_sqrt = (1.0 - b2**self.t) ** 0.5
        for (p, g), (m, v, tmp) in zip(self.params(), self.slots, strict=True):
            m *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= bc2_sqrt
            tmp += ADAM_EPS
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp
        return loss


class Floor:
    """Only the matrix products a Dense step cannot avoid, into preallocated buffers:
    ``x @ W`` per layer, ``dW = a.T @ dy`` per layer, ``dx = dy @ W.T`` for all but the
    first layer. No bias, activation, loss or update: a lower bound, not a step.

    With ``torch`` (the ``torch-floor`` row) every buffer is shared with a tensor
    (``torch.from_numpy``) and the products go through ``torch.matmul(..., out=)``: the
    same shapes, layouts and memory, so ``floor/torch-floor`` compares the two libraries'
    BLAS on exactly the products a Dense step needs."""

    def __init__(self, np: Any, weights: list, batch: int, seed: int, torch: Any = None) -> None:
        f32 = np.float32
        self.np = np
        self.W = [np.array(w, dtype=f32) for w, _ in weights]
        self.Z = [np.empty((batch, w.shape[1]), dtype=f32) for w in self.W]
        self.dW = [np.empty_like(w) for w in self.W]
        self.DX = [None] + [np.empty((batch, w.shape[0]), dtype=f32) for w in self.W[1:]]
        rng = np.random.default_rng(seed + 1)
        self.D = rng.standard_normal(self.Z[-1].shape, dtype=f32) * f32(1e-2)
        self.matmul = np.matmul
        if torch is not None:  # the same buffers, shared, multiplied by PyTorch's BLAS
            t = torch.from_numpy
            self.W, self.Z, self.dW = (
                [t(w) for w in self.W],
                [t(z) for z in self.Z],
                [t(d) for d in self.dW],
            )
            self.DX = [None] + [t(d) for d in self.DX[1:]]
            self.D = t(self.D)
            self.matmul = torch.matmul

    def step(self, x: Any, y: Any) -> None:
        matmul = self.matmul
        h = x
        for w, z in zip(self.W, self.Z, strict=True):
            matmul(h, w, out=z)
            h = z
        dy = self.D
        for i in range(len(self.W) - 1, -1, -1):
            matmul(x.T if i == 0 else self.Z[i - 1].T, dy, out=self.dW[i])
            if i > 0:
                matmul(dy, self.W[i].T, out=self.DX[i])
                dy = self.DX[i]
