"""The PyTorch rows: ``torch`` is ``train_step.py``'s step as it is; ``torch-adam`` and
``torch-adam-fused`` are the same model with ``torch.optim.Adam``. Also whether fused
Adam can run on this CPU, and the weights back in neuroback's layout."""

from __future__ import annotations

from typing import Any

from .sizes import ADAM_LR


def torch_adam(ts: Any, weights: list, fused: bool) -> Any:
    """train_step.py's torch model (same weights), with torch.optim.Adam instead of SGD."""
    kwargs = {"fused": True} if fused else {}
    return ts.build_torch(
        weights, optimizer=lambda params: ts.torch.optim.Adam(params, lr=ADAM_LR, **kwargs)
    )


def fused_adam_problem(torch: Any) -> str | None:
    """Why ``torch.optim.Adam(fused=True)`` cannot step on CPU here, or None if it can."""
    try:
        lin = torch.nn.Linear(2, 2)
        opt = torch.optim.Adam(lin.parameters(), lr=ADAM_LR, fused=True)
        lin(torch.ones(1, 2)).sum().backward()
        opt.step()
    except (RuntimeError, TypeError, ValueError) as exc:
        return f"torch.optim.Adam(fused=True) fails on CPU: {exc}"
    return None
