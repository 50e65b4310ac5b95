r"""GradientFlowMonitor: watch gradients flow through a model, layer by layer.

Every ``every_n_steps`` optimizer steps it records, for each layer with
parameters (keyed by its dotted name, e.g. ``"3"`` or ``"2.block.0"``):

- ``grad_norm`` :math:`\|g\|` and ``weight_norm`` :math:`\|W\|` (over all the layer's
  parameters), and ``grad_rms`` :math:`\|g\|/\sqrt{n}`;
- ``relative_grad`` :math:`\|g\| / \|W\|` (how far one plain SGD step with lr 1 would move
  the layer, relative to its size);
- ``update_ratio`` :math:`\|\Delta W\| / \|W\|` of the update actually applied
  (healthy training is typically around :math:`10^{-3}`);

and for each activation layer (inside any container: the model reports every sub-layer's
output to an :class:`~neuroback.Observer` passed down its ``forward``), on the same batch
in inference mode:

- ReLU / LeakyReLU: ``dead_fraction``, the share of units that output zero (or
  the negative slope) for *every* sample of the batch;
- Sigmoid / Tanh: ``saturated_fraction``, the share of outputs within
  ``saturation`` of the asymptotes (:math:`\sigma < 0.01` or :math:`> 0.99`;
  :math:`|\tanh| > 0.99`), where the local derivative all but vanishes.

**Activations of any rank.** Axis 0 is the batch; a *unit* is any one index of the other
axes, so the statistics read the same on ``(N, F)``, ``(N, C, L)`` and ``(N, C, H, W)``
outputs. For :math:`a \in \mathbb R^{N \times d_1 \times \cdots \times d_r}`:

.. math::

    \text{dead\_fraction} = \frac{1}{d_1 \cdots d_r} \sum_{u}
    \big[\, a_{n,u} \le 0 \ \text{for every } n \,\big], \qquad
    \text{saturated\_fraction} = \frac{1}{N d_1 \cdots d_r} \sum_{n,u}
    \big[\, a_{n,u} \text{ saturated} \,\big]

On an image activation ``(N, C, H, W)`` a unit is one channel at one position: a channel
that is dead everywhere (a dead filter) contributes all its :math:`H W` positions, so
``dead_fraction`` is the share of channels dead everywhere plus the share of single
positions dead in otherwise live channels. The gradient statistics are per parameter
array, whatever its shape (a convolution kernel is summed over all its axes). The
reductions run on the backend and only the two numbers reach the host, so a large
activation is never copied.

**Flags** (a :class:`GradientFlowWarning` once per layer and kind, and the
``flags`` list):

- *vanishing* when a layer's ``grad_rms`` is below ``vanishing_ratio``
  (default :math:`10^{-4}`) times the largest ``grad_rms`` in the model: the
  layers nearest the input barely learn (deep sigmoid stacks);
- *exploding* when a layer's ``relative_grad`` exceeds ``exploding_ratio``
  (default 100: one step would move the weights a hundred times their size),
  or any gradient is NaN or infinite.

:meth:`GradientFlowMonitor.plot` (and ``plot_path=``, written when training
ends) draws the gradient RMS of every layer over the steps, on a log scale
(matplotlib, from the ``examples`` extra).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, final

import numpy as np

from neuroback import Callback, Layer, checks
from neuroback.caller_warnings import warn_at_caller
from neuroback.layer import Observer

__all__ = ["GradientFlowMonitor", "GradientFlowWarning"]


class GradientFlowWarning(UserWarning):
    """A layer's gradients vanished or exploded (see GradientFlowMonitor)."""


def _layer_groups(model: Layer) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for name, param in model.named_parameters().items():
        groups.setdefault(name.rpartition(".")[0] or "<model>", []).append(param)
    return groups


@final
class GradientFlowMonitor(Callback):
    """Sample per-layer gradient statistics every ``every_n_steps`` steps and flag trouble."""

    #: Output: written by the main process only under several processes.
    main_process_only: ClassVar[bool] = True

    def __init__(
        self,
        every_n_steps: int = 10,
        *,
        vanishing_ratio: float = 1e-4,
        exploding_ratio: float = 100.0,
        saturation: float = 0.01,
        plot_path: str | os.PathLike[str] | None = None,
        warn: bool = True,
    ) -> None:
        every_n_steps = checks.positive_int(every_n_steps, "GradientFlowMonitor every_n_steps")
        vanishing_ratio = checks.positive(
            vanishing_ratio, "GradientFlowMonitor vanishing_ratio", finite=False
        )
        exploding_ratio = checks.positive(
            exploding_ratio, "GradientFlowMonitor exploding_ratio", finite=False
        )
        saturation = checks.number(
            saturation,
            "GradientFlowMonitor saturation",
            low=0,
            high=0.5,
            low_open=True,
            high_open=True,
        )
        self.every_n_steps = every_n_steps
        self.vanishing_ratio = float(vanishing_ratio)
        self.exploding_ratio = float(exploding_ratio)
        self.saturation = float(saturation)
        self.plot_path = None if plot_path is None else Path(plot_path)
        self.warn = bool(warn)
        #: One dict per layer per sampled step.
        self.records: list[dict[str, Any]] = []
        #: ``(step, layer, "vanishing" | "exploding", value)`` for every flag raised.
        self.flags: list[tuple[int, str, str, float]] = []
        self._warned: set[tuple[str, str]] = set()
        self._before: dict[str, list[np.ndarray]] | None = None
        self._pending: list[dict[str, Any]] = []

    # -- sampling -----------------------------------------------------------------------
    def _sampling(self, trainer: Any) -> bool:
        return trainer.global_step % self.every_n_steps == 0

    def on_before_optimizer_step(self, trainer: Any) -> None:
        if not self._sampling(trainer):
            return
        backend = trainer.model.backend
        step = trainer.global_step
        rows = []
        self._before = {}
        for layer, params in _layer_groups(trainer.model).items():
            grads = [backend.to_host(p.grad) for p in params]
            values = [np.array(backend.to_host(p.value), copy=True) for p in params]
            self._before[layer] = values
            g2 = sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)
            w2 = sum(float(np.sum(np.square(v, dtype=np.float64))) for v in values)
            n = sum(g.size for g in grads)
            grad_norm, weight_norm = math.sqrt(g2), math.sqrt(w2)
            rows.append(
                {
                    "step": step,
                    "layer": layer,
                    "grad_norm": grad_norm,
                    "weight_norm": weight_norm,
                    "grad_rms": grad_norm / math.sqrt(max(n, 1)),
                    "relative_grad": grad_norm / weight_norm if weight_norm > 0 else math.inf,
                    "update_ratio": math.nan,
                }
            )
        self._flag(rows)
        self._pending = rows

    def on_batch_end(self, trainer: Any, step: int, logs: Mapping[str, Any]) -> None:
        if self._before is None:
            return
        backend = trainer.model.backend
        groups = _layer_groups(trainer.model)
        for row in self._pending:
            before = self._before[row["layer"]]
            after = [backend.to_host(p.value) for p in groups[row["layer"]]]
            delta = math.sqrt(
                sum(float(np.sum((a - b) ** 2)) for a, b in zip(after, before, strict=True))
            )
            row["update_ratio"] = delta / row["weight_norm"] if row["weight_norm"] > 0 else math.inf
        if trainer.last_batch is not None:
            activations = self._activation_stats(trainer.model, trainer.last_batch[0])
            for row in self._pending:
                row.update(activations.pop(row["layer"], {}))
            for layer, stats in activations.items():
                self._pending.append(
                    {
                        "step": self._pending[0]["step"] if self._pending else step,
                        "layer": layer,
                        **stats,
                    }
                )
        self.records.extend(self._pending)
        self._pending = []
        self._before = None

    def _activation_stats(self, model: Layer, x: Any) -> dict[str, dict[str, float]]:
        """Dead and saturated units of every activation, found inside any container: the
        model reports each sub-layer's output to an :class:`~neuroback.Observer`."""
        from ..activations import LeakyReLU, ReLU, Sigmoid, Tanh

        backend = model.backend
        xp = backend.xp
        stats: dict[str, dict[str, float]] = {}
        low, high = self.saturation, 1 - self.saturation

        def share(mask: Any) -> float:
            """The fraction of True in ``mask``, counted on the backend; one number moves."""
            if mask.size == 0:
                return math.nan
            return float(backend.to_host(xp.count_nonzero(mask))) / int(mask.size)

        def measure(name: str, layer: Layer, out: Any) -> None:
            # Any rank: axis 0 is the batch, every other index is a unit.
            if out.ndim < 1:
                return
            if isinstance(layer, ReLU | LeakyReLU):
                stats[name] = {"dead_fraction": 1.0 - share((out > 0).any(axis=0))}
            elif isinstance(layer, Sigmoid):
                stats[name] = {"saturated_fraction": share((out < low) | (out > high))}
            elif isinstance(layer, Tanh):
                stats[name] = {"saturated_fraction": share(xp.abs(out) > high)}

        if model.children():
            try:
                model.forward(x, train=False, observer=Observer(measure))
            except TypeError as exc:
                if "observer" not in str(exc):
                    raise
                if ("<model>", "observer") not in self._warned:
                    self._warned.add(("<model>", "observer"))
                    warn_at_caller(
                        f"GradientFlowMonitor cannot see the activations inside this model: a "
                        f"container in it does not accept observer= in forward ({exc}). Give "
                        f"it forward(x, *, train, rng=None, observer=None) and run its children "
                        f"with neuroback.forward_child. Gradient statistics are still recorded.",
                        GradientFlowWarning,
                    )
                return {}
        else:
            measure("", model, model(x))
        return stats

    def _flag(self, rows: list[dict[str, Any]]) -> None:
        finite_rms = [r["grad_rms"] for r in rows if math.isfinite(r["grad_rms"])]
        top = max(finite_rms, default=0.0)
        for row in rows:
            kind, value = None, 0.0
            if not math.isfinite(row["grad_norm"]) or (
                math.isfinite(row["relative_grad"]) and row["relative_grad"] > self.exploding_ratio
            ):
                kind, value = "exploding", row["relative_grad"]
            elif top > 0 and row["grad_rms"] < self.vanishing_ratio * top:
                kind, value = "vanishing", row["grad_rms"] / top
            row["flag"] = kind
            if kind is None:
                continue
            self.flags.append((row["step"], row["layer"], kind, value))
            if self.warn and (row["layer"], kind) not in self._warned:
                self._warned.add((row["layer"], kind))
                if kind == "vanishing":
                    detail = (
                        f"its gradient RMS is {value:.1e} of the largest layer's (threshold "
                        f"{self.vanishing_ratio:g}). Consider ReLU, BatchNorm or Residual blocks."
                    )
                else:
                    detail = (
                        f"its gradient is {value:.3g} times its weights' norm (threshold "
                        f"{self.exploding_ratio:g}). Consider ClipByGlobalNorm, a lower learning "
                        f"rate or a smaller initialization."
                    )
                warn_at_caller(
                    f"Gradients are {kind} in layer {row['layer']!r} at step {row['step']}: "
                    + detail,
                    GradientFlowWarning,
                )

    # -- reading the results ------------------------------------------------------------
    def flagged(self, kind: str) -> list[str]:
        """Names of the layers flagged ``"vanishing"`` or ``"exploding"`` at least once."""
        if kind not in ("vanishing", "exploding"):
            raise ValueError(f"kind must be 'vanishing' or 'exploding', got {kind!r}.")
        return sorted({layer for _, layer, k, _ in self.flags if k == kind}, key=_layer_order)

    @staticmethod
    def _cell(row: Mapping[str, Any], key: str, width: int, spec: str) -> str:
        value = row.get(key)
        if isinstance(value, float) and math.isfinite(value):
            return f"{value:>{width}{spec}}"
        return " " * (width - 1) + "-"

    def summary(self) -> str:
        """The last sampled step as a table."""
        if not self.records:
            return "GradientFlowMonitor: no step sampled yet."
        last = max(r["step"] for r in self.records)
        rows = [r for r in self.records if r["step"] == last]
        lines = [
            f"gradient flow at step {last}",
            f"{'layer':<12}{'grad_rms':>10}{'|g|/|W|':>10}{'update':>10}"
            f"{'dead':>7}{'sat.':>7}  flag",
        ]
        for r in sorted(rows, key=lambda r: _layer_order(r["layer"])):
            cells = [
                self._cell(r, "grad_rms", 10, ".2e"),
                self._cell(r, "relative_grad", 10, ".2e"),
                self._cell(r, "update_ratio", 10, ".2e"),
                self._cell(r, "dead_fraction", 7, ".2f"),
                self._cell(r, "saturated_fraction", 7, ".2f"),
            ]
            lines.append(f"{r['layer']:<12}{''.join(cells)}  {r.get('flag') or ''}")
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Write a PNG of every layer's gradient RMS over the sampled steps (log scale)."""
        try:
            import matplotlib

            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError(
                'GradientFlowMonitor.plot needs matplotlib: pip install "neuroback[examples]"'
            ) from exc
        path = Path(path)
        series: dict[str, list[tuple[int, float]]] = {}
        for r in self.records:
            if "grad_rms" in r:
                series.setdefault(r["layer"], []).append((r["step"], r["grad_rms"]))
        if not series:
            raise ValueError("Nothing to plot yet: no step was sampled (train first).")
        fig, ax = plt.subplots(figsize=(8, 4.5))
        cmap = plt.get_cmap("viridis")
        names = sorted(series, key=_layer_order)
        for i, name in enumerate(names):
            steps, values = zip(*series[name], strict=True)
            ax.plot(
                steps, np.maximum(values, 1e-30), label=name, color=cmap(i / max(len(names) - 1, 1))
            )
        ax.set_yscale("log")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("gradient RMS per layer")
        ax.set_title("Gradient flow (input side: dark, output side: light)")
        ax.legend(fontsize="small", title="layer", loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        tmp = path.with_name(path.name + ".tmp")
        fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        os.replace(tmp, path)  # never leave a half-written image
        return path

    def on_train_end(self, trainer: Any) -> None:
        if self.plot_path is not None and self.records:
            self.plot(self.plot_path)

    def state_dict(self) -> dict[str, Any]:
        return {"records": self.records, "flags": [list(f) for f in self.flags]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.records = [dict(r) for r in state.get("records", [])]
        self.flags = [tuple(f) for f in state.get("flags", [])]  # type: ignore[misc]

    def config(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "every_n_steps": self.every_n_steps,
            "vanishing_ratio": self.vanishing_ratio,
            "exploding_ratio": self.exploding_ratio,
            "saturation": self.saturation,
            "warn": self.warn,
        }
        if self.plot_path is not None:
            out["plot_path"] = str(self.plot_path)
        return out


def _layer_order(name: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in name.split("."))
