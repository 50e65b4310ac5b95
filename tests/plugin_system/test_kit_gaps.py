"""Two optimizer bugs the kit let through: a hyperparameter kept under another attribute
(``load_state_dict`` set a stray attribute and the optimizer went on with the old value),
and a constructor argument that ``config()`` forgets (a saved or resumed copy silently
got the default)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.testing import ConformanceError, check_callback, check_optimizer


class _RMSpropHiddenRho(nb.Optimizer):
    """RMSprop keeping rho in ``self._rho`` with no property: what the bug looked like."""

    def __init__(self, lr: float = 0.01, *, rho: float = 0.9, transforms: Any = ()) -> None:
        super().__init__(lr=lr, transforms=transforms)
        self._rho = float(rho)

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "rho": self._rho}

    def init_slots(self, param: nb.Parameter) -> dict[str, Any]:
        return {"square_avg": param.backend.xp.zeros_like(param.value)}

    def update(self, value: Any, grad: Any, slots: Any, *, step: int, hp: Any) -> None:
        avg = slots["square_avg"]
        avg *= hp["rho"]
        avg += (1 - hp["rho"]) * grad * grad
        value -= hp["lr"] * grad / (np.sqrt(avg) + 1e-8)


class _RMSpropRhoAttribute(_RMSpropHiddenRho):
    """The fix: the hyperparameter is the attribute of its name."""

    def __init__(self, lr: float = 0.01, *, rho: float = 0.9, transforms: Any = ()) -> None:
        super().__init__(lr=lr, rho=rho, transforms=transforms)
        self.rho = self._rho

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr, "rho": self.rho}


class _ForgetsMomentum(_RMSpropRhoAttribute):
    """Takes ``momentum`` but leaves it out of hyperparameters(), hence out of config()."""

    def __init__(
        self, lr: float = 0.01, *, rho: float = 0.9, momentum: float = 0.0, transforms: Any = ()
    ) -> None:
        super().__init__(lr=lr, rho=rho, transforms=transforms)
        self.momentum = float(momentum)


nb.register(_RMSpropRhoAttribute, name="RMSpropRhoAttributeForKitTest")
nb.register(_ForgetsMomentum, name="ForgetsMomentumForKitTest")


def _bound(cls: type[nb.Optimizer], **hp: Any) -> nb.Optimizer:
    backend = nb.get_backend("numpy")
    return cls(**hp).bind({"w": nb.Parameter(np.ones(3), name="w", backend=backend)})


def test_loading_a_state_into_an_optimizer_with_a_hidden_hyperparameter_is_refused() -> None:
    saved = _bound(_RMSpropRhoAttribute, rho=0.5).state_dict()
    target = _bound(_RMSpropHiddenRho, rho=0.9)
    before = target.state_dict()
    saved["type"] = before["type"]
    with pytest.raises(TypeError, match=r"\[.rho.\] are not attributes .*self\.rho"):
        target.load_state_dict(saved)
    assert target.hyperparameters() == before["hyperparameters"]
    assert not hasattr(target, "rho")  # nothing was set
    fixed = _bound(_RMSpropRhoAttribute, rho=0.9)
    fixed.load_state_dict({**saved, "type": "_RMSpropRhoAttribute"})
    assert fixed.hyperparameters()["rho"] == 0.5


def test_the_kit_names_a_hyperparameter_that_is_not_its_attribute() -> None:
    # an attribute of the right name exists, but hyperparameters() reads another one
    class StaleRho(_RMSpropRhoAttribute):
        def hyperparameters(self) -> dict[str, Any]:
            return {"lr": self.lr, "rho": self._rho}

    nb.register(StaleRho, name="StaleRhoForKitTest")

    with pytest.raises(ConformanceError, match="each hyperparameter is the attribute of its name"):
        check_optimizer(StaleRho())
    check_optimizer(_RMSpropRhoAttribute())


def test_the_kit_names_a_constructor_argument_config_forgets() -> None:
    with pytest.raises(
        ConformanceError,
        match=r"config\(\) keeps every constructor argument.*momentum=0\.5.*momentum=0\.0",
    ):
        check_optimizer(_ForgetsMomentum())


def test_the_kit_names_a_required_argument_config_forgets() -> None:
    class Every(nb.Callback):
        def __init__(self, n: int) -> None:
            self.n = n

    nb.register(Every, name="EveryForKitTest")

    with pytest.raises(ConformanceError, match="the required argument 'n' is missing"):
        check_callback(Every(3))
