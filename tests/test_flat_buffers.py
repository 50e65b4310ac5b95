"""Element-wise optimizers update one flat buffer per group: the same bits as per parameter.

Every test runs a packed optimizer beside a twin whose rule is declared not
element-wise (so it takes the per-parameter path) and asserts bitwise equality,
through the situations that change the layout: freezing, unequal step counts, a
transform returning new arrays, a second optimizer, loading a state, a backend move.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
import neuroback.testing.strict  # registers the "strict" backend
from neuroback.flat_buffers import FlatLayout


def _unpacked(factory: Any) -> nb.Optimizer:
    """The same optimizer, on the per-parameter path."""
    opt = factory()
    unpacked = type(f"Unpacked{type(opt).__name__}", (type(opt),), {"elementwise": False})
    return unpacked.from_config(opt.config())


def _model(dtype: str = "float64", seed: int = 3) -> nb.Sequential:
    nb.seed(seed)
    return nb.Sequential(
        nb.layers.Dense(3, 5, dtype=dtype),
        nb.layers.Tanh(),
        nb.layers.Dense(5, 2, dtype=dtype),
    )


def _step(model: nb.Layer, opt: nb.Optimizer, rng: np.random.Generator) -> None:
    dtype = next(iter(model.parameters())).dtype
    x, y = rng.normal(size=(8, 3)).astype(dtype), rng.normal(size=(8, 2)).astype(dtype)
    pred, backward = model.forward(x, train=True)
    _, dpred = nb.losses.MSE().forward(pred, y)
    backward(dpred)
    opt.step()
    opt.zero_grad()


def _same(a: nb.Layer, b: nb.Layer) -> None:
    for (name, p), q in zip(a.named_parameters().items(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value, err_msg=name, strict=True)


FACTORIES = {
    "sgd": lambda: nb.optimizers.SGD(lr=0.05),
    "sgd-momentum-wd": lambda: nb.optimizers.SGD(lr=0.05, momentum=0.9, weight_decay=1e-3),
    "sgd-nesterov": lambda: nb.optimizers.SGD(lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: nb.optimizers.Adam(lr=0.01, weight_decay=1e-3),
    "adamw": lambda: nb.optimizers.AdamW(lr=0.01),
    "adam-groups": lambda: nb.optimizers.Adam(
        lr=0.01, groups=[{"params": "*.b", "weight_decay": 0.1, "lr_scale": 0.5}]
    ),
    "sgd-clip": lambda: nb.optimizers.SGD(
        lr=0.05, momentum=0.5, transforms=[nb.transforms.ClipByGlobalNorm(0.5)]
    ),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("factory", FACTORIES.values(), ids=FACTORIES.keys())
def test_packed_steps_equal_per_parameter_steps_bitwise(factory: Any, dtype: str) -> None:
    packed_model, plain_model = _model(dtype), _model(dtype)
    packed, plain = factory().bind(packed_model), _unpacked(factory).bind(plain_model)
    assert isinstance(packed._flat, FlatLayout) and plain._flat is None
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    for _ in range(5):
        _step(packed_model, packed, rng_a)
        _step(plain_model, plain, rng_b)
    _same(packed_model, plain_model)
    state_a, state_b = packed.state_dict(), plain.state_dict()
    for name, slots in state_a["slots"].items():
        assert slots.keys() == state_b["slots"][name].keys()
        for key, value in slots.items():
            np.testing.assert_array_equal(value, state_b["slots"][name][key], strict=True)


def test_bind_packs_each_group_into_one_buffer_and_keeps_the_parameter_objects() -> None:
    model = _model()
    before = model.named_parameters()
    opt = nb.optimizers.Adam(groups=[{"params": "*.b", "weight_decay": 0.1}]).bind(model)
    after = model.named_parameters()
    assert all(before[k] is after[k] for k in before)  # same objects, new storage
    flat = opt._flat
    assert flat is not None and len(flat.groups) == 2  # the biases' group and the defaults
    for group in flat.groups:
        assert group.values.ndim == 1 and group.values.size == sum(p.size for p in group.params)
        for param in group.params:
            assert np.shares_memory(param.value, group.values)
            assert np.shares_memory(param.grad, group.grads)
    (biases,) = [g for g in flat.groups if g.group == 0]
    assert set(biases.names) == {"0.b", "2.b"}


def test_parameters_of_two_dtypes_get_a_buffer_each() -> None:
    model = nb.Sequential(nb.layers.Dense(3, 4), nb.layers.Dense(4, 2))  # float32
    mixed = nb.Sequential(nb.layers.Dense(3, 4, dtype="float64"))
    opt = nb.optimizers.SGD(lr=0.1).bind({**model.named_parameters(), "x.W": mixed[0].W})
    assert opt._flat is not None
    assert sorted(g.values.dtype.name for g in opt._flat.groups) == ["float32", "float64"]


def test_an_unused_parameter_is_stepped_with_a_zero_gradient() -> None:
    model, twin = _model(), _model()
    opt = nb.optimizers.SGD(lr=0.1, weight_decay=0.5).bind(model)
    ref = _unpacked(lambda: nb.optimizers.SGD(lr=0.1, weight_decay=0.5)).bind(twin)
    for m, o in ((model, opt), (twin, ref)):
        m.zero_grad()  # lazily zero: no backward writes this step
        m[0].W.grad  # read: filled with zeros
        o.step()
    _same(model, twin)
    assert not np.array_equal(model[0].W.value, _model()[0].W.value)  # weight decay moved it


def test_freezing_and_unfreezing_keep_the_numbers() -> None:
    factory = FACTORIES["adam"]
    model, twin = _model(), _model()
    opt, ref = factory().bind(model), _unpacked(factory).bind(twin)
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    for phase in ("all", "frozen", "thawed"):
        for m in (model, twin):
            if phase == "frozen":
                m.freeze("0.*")
            elif phase == "thawed":
                m.unfreeze()
        for _ in range(3):
            _step(model, opt, rng_a)
            _step(twin, ref, rng_b)
        _same(model, twin)
    # after unfreezing, the first layer is 3 steps behind: its group cannot share a step
    assert opt._param_steps["0.W"] == 6 and opt._param_steps["2.W"] == 9


class _HalveIntoNewArrays(nb.GradientTransform):
    """Returns new gradient arrays (does not work in place)."""

    def init(self, params: Any, *, backend: Any) -> None:
        return None

    def update(self, grads: Any, state: Any, params: Any, *, backend: Any) -> Any:
        return {k: g * 0.5 for k, g in grads.items()}, state


def test_a_transform_returning_new_arrays_is_respected() -> None:
    model, twin = _model(), _model()

    def factory() -> nb.Optimizer:
        return nb.optimizers.SGD(lr=0.1, momentum=0.9, transforms=[_HalveIntoNewArrays()])

    opt = factory()
    ref = type("Unpacked", (nb.optimizers.SGD,), {"elementwise": False})(
        lr=0.1, momentum=0.9, transforms=[_HalveIntoNewArrays()]
    )
    opt.bind(model)
    ref.bind(twin)
    rng_a, rng_b = np.random.default_rng(2), np.random.default_rng(2)
    for _ in range(3):
        _step(model, opt, rng_a)
        _step(twin, ref, rng_b)
    _same(model, twin)


def test_a_second_optimizer_on_the_same_parameters_does_not_strand_the_first() -> None:
    model, twin = _model(), _model()
    first = nb.optimizers.SGD(lr=0.1).bind(model)
    nb.optimizers.Adam().bind(model)  # packs the same parameters into its own buffers
    ref = _unpacked(lambda: nb.optimizers.SGD(lr=0.1)).bind(twin)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(2):
        _step(model, first, rng_a)  # the first optimizer notices and packs again
        _step(twin, ref, rng_b)
    _same(model, twin)


def test_a_nonfinite_gradient_in_the_packed_buffer_skips_the_whole_step() -> None:
    model = _model()
    opt = nb.optimizers.SGD(lr=0.1, momentum=0.9).bind(model)
    before = {k: p.value.copy() for k, p in model.named_parameters().items()}
    for p in model.parameters():
        p.grad[...] = 1.0
    model[2].b.grad[-1] = np.inf  # the last element of the last buffer
    assert opt.try_step() is False
    for k, p in model.named_parameters().items():
        np.testing.assert_array_equal(p.value, before[k])
    assert opt.skipped_steps == 1


def test_the_strict_backend_takes_the_device_path_with_packed_buffers() -> None:
    factory = FACTORIES["sgd-momentum-wd"]
    model, twin = _model(), _model()
    model.to("strict")
    opt = factory().bind(model)
    ref = _unpacked(factory).bind(twin)
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    strict = model.backend
    with nb.use_backend("strict"):
        strict_mse = nb.losses.MSE()
    for step in range(4):
        x, y = rng_a.normal(size=(8, 3)), rng_a.normal(size=(8, 2))
        pred, backward = model.forward(strict.asarray(x), train=True)
        _, dpred = strict_mse.forward(pred, strict.asarray(y))
        backward(dpred)
        if step == 0:  # a non-finite first momentum step: undone, velocity dropped
            model[0].W.grad[0, 0] = np.nan
        opt.step()
        opt.zero_grad()
        x2, y2 = rng_b.normal(size=(8, 3)), rng_b.normal(size=(8, 2))
        pred, backward = twin.forward(x2, train=True)
        _, dpred = nb.losses.MSE().forward(pred, y2)
        backward(dpred)
        if step == 0:
            twin[0].W.grad[0, 0] = np.nan
        ref.step()
        ref.zero_grad()
    for (name, p), q in zip(model.named_parameters().items(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(strict.to_host(p.value), q.value, err_msg=name)
    assert opt.skipped_steps == ref.skipped_steps == 1


def test_moving_model_and_optimizer_repacks_on_the_new_backend() -> None:
    factory = FACTORIES["adam"]
    model, twin = _model(), _model()
    opt, ref = factory().bind(model), _unpacked(factory).bind(twin)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    _step(model, opt, rng_a)
    _step(twin, ref, rng_b)
    model.to("strict")
    opt.to("strict")
    model.to("numpy")
    opt.to("numpy")
    for _ in range(2):
        _step(model, opt, rng_a)
        _step(twin, ref, rng_b)
    _same(model, twin)
    assert opt._flat is not None and opt._flat.valid(tuple(opt.params), opt._slots)
