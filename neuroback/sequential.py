"""Sequential: layers applied one after another; backward runs them in reverse."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, final, overload

from .backend import Array, BackendLike
from .layer import Backward, Layer, Observer, forward_child, missing_input_grad, run_backward

__all__ = ["Sequential"]


@final
class Sequential(Layer):
    r"""A chain of layers: :math:`y = f_n(\dots f_2(f_1(x)))`.

    Backward applies the chain rule in reverse order,
    :math:`\partial L/\partial x = J_{f_1}^\top \cdots J_{f_n}^\top\, \partial L/\partial y`,
    each layer adding its own parameter gradients on the way. Sub-layers are
    named ``"0"``, ``"1"``, ..., so parameters are listed as ``"0.W"``, ``"2.b"``.

    >>> import neuroback as nb
    >>> model = nb.Sequential(nb.layers.Dense(2, 4), nb.layers.ReLU(), nb.layers.Dense(4, 1))
    >>> list(model.named_parameters())
    ['0.W', '0.b', '2.W', '2.b']
    >>> len(model), model[1]
    (3, ReLU())
    """

    def __init__(self, *layers: Layer, backend: BackendLike = None) -> None:
        if len(layers) == 1 and isinstance(layers[0], list | tuple):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential takes Layer objects; item {i} is {type(layer).__name__}: "
                    f"{layer!r}. Did you pass the class instead of an instance "
                    "(Dense vs Dense(...))?"
                )
        if backend is None and layers:
            backend = layers[0].backend
        super().__init__(backend=backend)
        self._layers: list[Layer] = []
        for layer in layers:
            self.append(layer)

    @classmethod
    def example(cls) -> tuple[Sequential, Any]:
        """Dense-Sigmoid-Dense, looked up in the registry (the core imports no layer)."""
        import numpy as np

        from .plugin_system import get_registry

        def layer(name: str) -> Any:
            return get_registry().get("layers", f"neuroback:{name}").obj

        dense, sigmoid = layer("Dense"), layer("Sigmoid")
        model = cls(
            dense(3, 5, dtype="float64", rng=0), sigmoid(), dense(5, 2, dtype="float64", rng=1)
        )
        return model, np.random.default_rng(2).normal(size=(4, 3))

    def append(self, layer: Layer) -> Sequential:
        """Add a layer at the end (it must live on this model's backend)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.append takes a Layer, got {type(layer).__name__}.")
        if layer.backend is not self.backend:
            raise ValueError(
                f"{layer!r} lives on the {layer.backend.name!r} backend but this Sequential is on "
                f"{self.backend.name!r}. Build all layers on one backend, or call model.to(...)."
            )
        self._layers.append(layer)
        return self

    def children(self) -> Mapping[str, Layer]:
        return {str(i): layer for i, layer in enumerate(self._layers)}

    def forward(
        self, x: Array, *, train: bool, rng: Any = None, observer: Observer | None = None
    ) -> tuple[Array, Backward]:
        layers = self._layers
        backwards: list[Backward] = []
        if observer is None:
            for layer in layers:
                x, backward = layer.forward(x, train=train, rng=rng)
                backwards.append(backward)
        else:
            for i, layer in enumerate(layers):
                x, backward = forward_child(
                    layer, x, name=str(i), train=train, rng=rng, observer=observer
                )
                backwards.append(backward)

        def backward(dy: Array, *, input_grad: bool = True) -> Array | None:
            # Every layer but the first hands its input gradient to the layer before it;
            # only the first one's dx leaves the model, so only it may skip the product.
            for i in range(len(backwards) - 1, 0, -1):
                dy = backwards[i](dy)  # run_backward(..., input_grad=True), inlined
                if dy is None:
                    missing_input_grad(layers[i])
            if not backwards:
                return dy
            return run_backward(backwards[0], dy, input_grad=input_grad, owner=layers[0])

        return x, backward

    def config(self) -> dict[str, Any]:
        from .config import to_spec

        return {"layers": [to_spec(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Sequential:
        from .config import build

        unknown = sorted(set(config) - {"layers"})
        if unknown:
            raise TypeError(f"Sequential takes only 'layers' in its config, got {unknown}.")
        layers = config.get("layers", [])
        if not isinstance(layers, list | tuple):
            raise TypeError(
                f"Sequential's 'layers' must be a list of layer specs, got {type(layers).__name__} "
                f"{layers!r}."
            )
        return cls(*(build("layers", spec) for spec in layers))

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers)

    @overload
    def __getitem__(self, index: int) -> Layer: ...
    @overload
    def __getitem__(self, index: slice) -> Sequential: ...
    def __getitem__(self, index: int | slice) -> Layer | Sequential:
        if isinstance(index, slice):
            return Sequential(*self._layers[index], backend=self.backend)
        return self._layers[index]

    def __repr__(self) -> str:
        if not self._layers:
            return "Sequential()"
        inner = "\n".join(
            f"  ({i}): {layer!r}".replace("\n", "\n  ") for i, layer in enumerate(self._layers)
        )
        return f"Sequential(\n{inner}\n)"
