"""The strict test backend: CuPy's refusals on the CPU, and the built-ins running on it.

The first half checks the backend itself (what it refuses, what it allows);
the second runs the built-in Dense, Sigmoid, ReLU, MSE and SGD on it and
compares every number with the NumPy backend.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import BackendMismatchError
from neuroback.testing import check_layer_gradients, check_loss_gradients
from neuroback.testing.strict import (
    StrictArray,
    StrictArrayError,
    StrictAssignmentError,
    StrictBackend,
    StrictGenerator,
    strict_numpy,
    use_strict_backend,
)


@pytest.fixture
def be() -> StrictBackend:
    backend = nb.get_backend("strict")
    assert isinstance(backend, StrictBackend)
    return backend


@pytest.fixture
def a(be: StrictBackend) -> StrictArray:
    return be.asarray(np.arange(6.0).reshape(2, 3))


def host(x: Any) -> np.ndarray:
    """Host copy of a strict array, checking that it is one."""
    assert isinstance(x, StrictArray), f"expected a StrictArray, got {type(x).__name__}"
    return nb.get_backend("strict").to_host(x)


# -- registration --------------------------------------------------------------------------


def test_importing_registers_the_strict_backend(be: StrictBackend) -> None:
    assert "strict" in nb.available_backends()
    assert be.name == "strict"
    assert be.xp is strict_numpy
    assert be.array_type is StrictArray
    with use_strict_backend() as active:
        assert active is be
        assert nb.get_backend() is be
        assert nb.layers.Dense(2, 2).backend is be
    assert nb.get_backend("numpy").name == "numpy"


# -- refusals: implicit conversion -----------------------------------------------------------


@pytest.mark.parametrize(
    "convert",
    [np.asarray, np.array, np.ascontiguousarray, lambda x: np.array(x, copy=True)],
    ids=["asarray", "array", "ascontiguousarray", "array-copy"],
)
def test_implicit_conversion_to_numpy_is_refused(
    a: StrictArray, convert: Callable[[Any], Any]
) -> None:
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        convert(a)
    with pytest.raises(StrictArrayError, match=r"backend\.to_host"):
        convert(a.sum())  # a 0-d array too


def test_no_back_door_to_numpy(a: StrictArray) -> None:
    # NumPy would use any of these to convert silently; CuPy arrays have none of them.
    for attr in (
        "__array_interface__",
        "__array_struct__",
        "__dlpack__",
        "__cuda_array_interface__",
    ):
        assert not hasattr(a, attr), attr
    with pytest.raises(TypeError):
        memoryview(a)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        np.array([a, a])  # a list of device arrays does not convert either


def test_strict_arrays_are_not_numpy_arrays(a: StrictArray, be: StrictBackend) -> None:
    for x in (a, a.sum(), a[0], a.T, be.xp.zeros(3), a + 1):
        assert not isinstance(x, np.ndarray | np.generic)
        assert isinstance(x, be.xp.ndarray)


# -- refusals: mixing with host arrays -------------------------------------------------------

_MIXES: dict[str, Callable[[StrictArray, np.ndarray], Any]] = {
    "strict + host": operator.add,
    "host + strict": lambda d, h: h + d,
    "strict * host": operator.mul,
    "host - strict": lambda d, h: h - d,
    "strict / host": operator.truediv,
    "strict > host": operator.gt,
    "host == strict": lambda d, h: h == d,
    "strict @ host.T": lambda d, h: d @ h.T,
    "host.T @ strict": lambda d, h: h.T @ d,
    "xp.add(strict, host)": lambda d, h: strict_numpy.add(d, h),
    "xp.add(host, host)": lambda d, h: strict_numpy.add(h, h),
    "xp.maximum(host, 0)": lambda d, h: strict_numpy.maximum(h, 0),
    "xp.where(cond, host, strict)": lambda d, h: strict_numpy.where(d > 2, h, d),
    "xp.concatenate": lambda d, h: strict_numpy.concatenate([d, h]),
    "xp.zeros_like(host)": lambda d, h: strict_numpy.zeros_like(h),
    "xp.add(..., out=host)": lambda d, h: strict_numpy.add(d, 1.0, out=h),
    "np.add(strict, host)": lambda d, h: np.add(d, h),
    "np.concatenate": lambda d, h: np.concatenate([d, h]),
    "np.dot(strict, host.T)": lambda d, h: np.dot(d, h.T),
    "strict.dot(host.T)": lambda d, h: d.dot(h.T),
    "strict.clip(host, 1)": lambda d, h: d.clip(h, 1.0),
    "generator.normal(host)": lambda d, h: strict_numpy.random.default_rng(0).normal(h),
}


@pytest.mark.parametrize("mix", list(_MIXES.values()), ids=list(_MIXES))
def test_mixing_with_host_arrays_is_refused(
    a: StrictArray, mix: Callable[[StrictArray, np.ndarray], Any]
) -> None:
    h = np.ones((2, 3))
    with pytest.raises(TypeError, match=r"host numpy\.ndarray.*backend\.asarray\(x\)"):
        mix(a, h)


@pytest.mark.parametrize("h", [np.array(1.0), np.ones(1)], ids=["0-d", "1-d"])
def test_host_arrays_of_any_ndim_are_refused_as_operands(a: StrictArray, h: np.ndarray) -> None:
    with pytest.raises(StrictArrayError):
        a + h
    with pytest.raises(StrictArrayError):
        h * a


def test_failed_in_place_mix_leaves_the_array_alone(a: StrictArray) -> None:
    before = host(a)
    with pytest.raises(StrictArrayError):
        a += np.ones(3)
    np.testing.assert_array_equal(host(a), before)


def test_sequences_are_not_ufunc_operands(a: StrictArray) -> None:
    with pytest.raises(StrictArrayError, match="list operand"):
        operator.add(a, [1.0, 2.0, 3.0])
    with pytest.raises(StrictArrayError, match="tuple operand"):
        strict_numpy.multiply(a, (1.0, 2.0, 3.0))


def test_setitem_refuses_host_arrays(a: StrictArray) -> None:
    with pytest.raises(StrictAssignmentError, match=r"non-scalar numpy\.ndarray"):
        a[...] = np.zeros((2, 3))
    with pytest.raises(ValueError, match="non-scalar"):  # CuPy's exception type, too
        a[0] = np.zeros(3)
    with pytest.raises(StrictArrayError):
        a[0] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(host(a), np.arange(6.0).reshape(2, 3))


def test_numpy_only_methods_are_missing(a: StrictArray) -> None:
    with pytest.raises(AttributeError, match=r"cupy\.ndarray offers"):
        a.tofile
    with pytest.raises(AttributeError):
        a.byteswap


def test_strict_arrays_are_unhashable(a: StrictArray) -> None:
    with pytest.raises(TypeError):
        hash(a)


# -- allowances ------------------------------------------------------------------------------


def test_arithmetic_among_strict_arrays_and_scalars(a: StrictArray, be: StrictBackend) -> None:
    h = np.arange(6.0).reshape(2, 3)
    b = be.asarray(np.full((2, 3), 2.0))
    cases = {
        "a + b": (a + b, h + 2.0),
        "a * 2": (a * 2, h * 2),
        "1.5 - a": (1.5 - a, 1.5 - h),
        "a / np.float64": (a / np.float64(4.0), h / 4.0),
        "np.float64 * a": (np.float64(3.0) * a, 3.0 * h),
        "a ** np.int64": (a ** np.int64(2), h**2),
        "-a": (-a, -h),
        "abs(a - 3)": (abs(a - 3), abs(h - 3)),
        "a @ b.T": (a @ b.T, h @ np.full((3, 2), 2.0)),
        "a > 2": (a > 2, h > 2),
        "xp.maximum(a, 1)": (be.xp.maximum(a, 1), np.maximum(h, 1)),
        "np.exp(a)": (np.exp(a), np.exp(h)),
        "xp.where": (be.xp.where(a > 2, 1.0, a), np.where(h > 2, 1.0, h)),
    }
    for label, (got, want) in cases.items():
        assert isinstance(got, StrictArray), label
        np.testing.assert_array_equal(host(got), want, err_msg=label)
    assert (a * np.float32(2)).dtype == np.float64
    assert (be.asarray(h, dtype=np.float32) * 2.0).dtype == np.float32


def test_in_place_operations_keep_the_buffer(a: StrictArray, be: StrictBackend) -> None:
    row = a[1]  # a view, as in CuPy
    same = a
    a += 1
    a *= np.float64(2)
    assert a is same
    out = be.xp.add(a, a, out=a)
    assert out is a
    be.xp.negative(a, out=a)
    a[0] = be.asarray(np.array([7.0, 8.0, 9.0]))
    a[0, 0] = np.float32(1.5)
    a[1, 1] = np.array(0.5)  # a 0-d host array is a scalar to CuPy
    want = np.array([[1.5, 8.0, 9.0], [-16.0, 0.5, -24.0]])
    np.testing.assert_array_equal(host(a), want)
    np.testing.assert_array_equal(host(row), want[1])
    assert a.astype(a.dtype, copy=False) is a
    assert be.xp.asarray(a) is a
    assert be.asarray(a) is a


def test_integer_indexing_gives_a_0d_view(a: StrictArray) -> None:
    element = a[1, 2]
    assert isinstance(element, StrictArray) and element.ndim == 0
    element[...] = 42.0
    assert float(a[1, 2]) == 42.0
    mask = a > 3
    np.testing.assert_array_equal(host(a[mask]), [4.0, 42.0])
    np.testing.assert_array_equal(host(a[:, np.array([0, 2])]), [[0.0, 2.0], [3.0, 42.0]])


@pytest.mark.parametrize(
    "reduce",
    [
        lambda x: x.sum(),
        lambda x: x.mean(),
        lambda x: x.max(),
        lambda x: x.min(),
        lambda x: x.var(),
        lambda x: x.std(),
        lambda x: x.prod(),
        lambda x: x.argmax(),
        lambda x: x.any(),
        lambda x: strict_numpy.sum(x),
        lambda x: strict_numpy.max(x),
        lambda x: strict_numpy.linalg.norm(x),
        lambda x: strict_numpy.vdot(x.ravel(), x.ravel()),
        lambda x: np.sum(x),
        lambda x: np.mean(x),
        lambda x: x[0, 1],
    ],
    ids=[
        "sum", "mean", "max", "min", "var", "std", "prod", "argmax", "any", "xp.sum",
        "xp.max", "xp.linalg.norm", "xp.vdot", "np.sum", "np.mean", "index",
    ],
)  # fmt: skip
def test_reductions_return_0d_strict_arrays(
    a: StrictArray, reduce: Callable[[StrictArray], Any]
) -> None:
    result = reduce(a)
    assert isinstance(result, StrictArray)
    assert result.ndim == 0 and result.shape == ()
    assert not isinstance(result, np.generic | float | int)


def test_explicit_conversions_to_python(a: StrictArray, be: StrictBackend) -> None:
    assert float(a.sum()) == 15.0
    assert int(a.max()) == 5
    assert bool(a.any()) is True
    assert a.mean().item() == 2.5
    assert a.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert [10, 11, 12][be.xp.asarray(2)] == 12  # __index__
    assert f"{a.sum():.1f}" == "15.0"
    assert 4.0 in a and 9.0 not in a
    assert len(a) == 2
    rows = list(a)
    assert all(isinstance(r, StrictArray) for r in rows)
    np.testing.assert_array_equal(host(rows[1]), [3.0, 4.0, 5.0])
    with pytest.raises(TypeError, match="0-d"):
        iter(a.sum())
    np.testing.assert_array_equal(a.get(), host(a))


def test_repr_names_the_strict_array(a: StrictArray) -> None:
    assert repr(a) == "strict_array([[0., 1., 2.],\n              [3., 4., 5.]])"
    assert repr(a.sum()) == "strict_array(15.)"
    assert repr(a.astype(np.float32)[0]) == "strict_array([0., 1., 2.], dtype=float32)"


def test_copies_are_independent(a: StrictArray) -> None:
    for c in (a.copy(), copy.copy(a), copy.deepcopy(a)):
        assert isinstance(c, StrictArray) and c is not a
        c += 100
        assert float(a[0, 0]) == 0.0


# -- the xp namespace ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda xp: xp.zeros((2, 3)),
        lambda xp: xp.ones(3, dtype=xp.float32),
        lambda xp: xp.empty((2,)),
        lambda xp: xp.full((2, 2), 7.0),
        lambda xp: xp.arange(5),
        lambda xp: xp.eye(3),
        lambda xp: xp.linspace(0.0, 1.0, 4),
        lambda xp: xp.zeros_like(xp.ones(3)),
        lambda xp: xp.empty_like(xp.ones(3)),
        lambda xp: xp.asarray([1.0, 2.0]),
        lambda xp: xp.array(np.ones(2)),
        lambda xp: xp.stack([xp.ones(2), xp.zeros(2)]),
        lambda xp: xp.random.default_rng(0).normal(size=3),
        lambda xp: xp.random.default_rng(0).random((2, 2), dtype=xp.float32),
        lambda xp: xp.random.default_rng(0).permutation(4),
        lambda xp: xp.random.default_rng(0).integers(0, 9, size=3),
        lambda xp: xp.random.default_rng(0).choice(xp.arange(4), 2),
    ],
    ids=[
        "zeros", "ones", "empty", "full", "arange", "eye", "linspace", "zeros_like",
        "empty_like", "asarray-list", "array-host", "stack", "rng.normal", "rng.random",
        "rng.permutation", "rng.integers", "rng.choice",
    ],
)  # fmt: skip
def test_xp_functions_return_strict_arrays(make: Callable[[ModuleType], Any]) -> None:
    assert isinstance(make(strict_numpy), StrictArray)


def test_xp_passes_classes_and_constants_through() -> None:
    xp = strict_numpy
    assert isinstance(xp, ModuleType)
    assert xp.float32 is np.float32 and xp.float64 is np.float64 and xp.dtype is np.dtype
    assert xp.pi == np.pi and xp.inf == np.inf and xp.newaxis is None
    assert xp.ndarray is StrictArray
    assert xp.random.Generator is StrictGenerator
    assert isinstance(xp.random.default_rng(0), StrictGenerator)
    assert xp.add.nin == 2
    total = xp.add.reduce(xp.ones(4))
    assert isinstance(total, StrictArray) and float(total) == 4.0
    evals, _ = xp.linalg.eigh(xp.eye(2))
    assert isinstance(evals, StrictArray)
    assert xp.may_share_memory(xp.ones(2), xp.ones(2)) is False


def test_host_transfers_copy(be: StrictBackend) -> None:
    h = np.arange(3.0)
    for d in (be.asarray(h), be.xp.asarray(h), be.xp.array(h), be.xp.asanyarray(h)):
        h[0] = -1.0  # on a GPU the device copy never sees this
        assert float(d[0]) == 0.0
        h[0] = 0.0
    d = be.asarray(h)
    back = be.to_host(d)
    assert type(back) is np.ndarray
    back[1] = 99.0
    assert float(d[1]) == 1.0
    cast = be.asarray(d, dtype="float32")
    assert cast is not d and cast.dtype == np.float32
    np.testing.assert_array_equal(be.to_host(be.asarray([[1, 2]], dtype="float64")), [[1.0, 2.0]])


def test_to_host_refuses_host_data(be: StrictBackend) -> None:
    with pytest.raises(BackendMismatchError, match=r"to_host takes a strict array.*numpy\.ndarray"):
        be.to_host(np.ones(2))


def test_generator_matches_numpys_stream(be: StrictBackend) -> None:
    got = be.generator(3).standard_normal(4)
    np.testing.assert_array_equal(host(got), np.random.default_rng(3).standard_normal(4))
    out = be.xp.zeros(4)
    be.generator(3).standard_normal(out=out)
    np.testing.assert_array_equal(host(out), host(got))


def test_strict_backend_catches_a_stray_host_array() -> None:
    """A layer bug that NumPy forgives and CuPy does not: adding a host constant."""

    class AddHostOnes(nb.Layer):
        def forward(self, x: Any, *, train: bool, rng: Any = None) -> tuple[Any, Any]:
            y = x + np.ones(x.shape[-1])  # the bug: should be self.backend.xp.ones
            return y, lambda dy: dy

        def config(self) -> dict[str, Any]:
            return {}

    x = np.zeros((2, 3))
    np.testing.assert_array_equal(AddHostOnes(backend="numpy")(x), np.ones((2, 3)))
    strict = nb.get_backend("strict")
    with pytest.raises(StrictArrayError, match=r"host numpy\.ndarray"):
        AddHostOnes(backend="strict")(strict.asarray(x))


# -- the built-ins on the strict backend -----------------------------------------------------


def _model(backend: str) -> nb.Sequential:
    nb.seed(0)
    with nb.use_backend(backend):
        return nb.Sequential(
            nb.layers.Dense(3, 4, dtype="float64"),
            nb.layers.Sigmoid(),
            nb.layers.Dense(4, 2, dtype="float64"),
            nb.layers.ReLU(),
        )


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(8, 3)), rng.normal(size=(8, 2))


def _train(backend_name: str, steps: int = 3) -> Iterator[dict[str, Any]]:
    """Run SGD with momentum; yield every number of every step as host arrays."""
    backend = nb.get_backend(backend_name)
    model = _model(backend_name)
    loss = nb.losses.MSE(backend=backend_name)
    optimizer = nb.optimizers.SGD(lr=0.1, momentum=0.9, nesterov=True).bind(model)
    x_host, t_host = _data()
    x, t = backend.asarray(x_host), backend.asarray(t_host)
    for _ in range(steps):
        optimizer.zero_grad()
        y, backward = model.forward(x, train=True, rng=backend.generator(0))
        value, dpred = loss.forward(y, t)
        dx = backward(dpred)
        record = {
            "y": backend.to_host(y),
            "loss": backend.to_host(value),
            "dpred": backend.to_host(dpred),
            "dx": backend.to_host(dx),
        }
        record |= {
            f"grad {n}": backend.to_host(p.grad) for n, p in model.named_parameters().items()
        }
        optimizer.step()
        record |= {
            f"value {n}": backend.to_host(p.value) for n, p in model.named_parameters().items()
        }
        record["state"] = optimizer.state_dict()
        record["arrays"] = [y, value, dpred, dx] + [p.value for p in model.parameters()]
        yield record
    model.zero_grad()
    yield {f"zeroed {n}": backend.to_host(p.grad) for n, p in model.named_parameters().items()}


def test_builtins_match_the_numpy_backend_number_for_number() -> None:
    ran = 0
    got: dict[str, Any] = {}
    for got, want in zip(_train("strict"), _train("numpy"), strict=True):
        assert got.keys() == want.keys()
        for key in got:
            if key == "arrays":
                assert all(isinstance(arr, StrictArray) for arr in got[key])
                assert all(isinstance(arr, np.ndarray) for arr in want[key])
            elif key == "state":
                for name, slots in want[key]["slots"].items():
                    np.testing.assert_array_equal(
                        got[key]["slots"][name]["velocity"], slots["velocity"], err_msg=name
                    )
            else:
                assert got[key].shape == want[key].shape, key
                np.testing.assert_array_equal(got[key], want[key], err_msg=key)  # bitwise
                ran += 1
    assert ran == 3 * (4 + 4 + 4) + 4
    assert all(not g.any() for g in got.values())  # the last record: after zero_grad


def test_numpy_input_to_a_strict_model_names_the_layer() -> None:
    model = _model("strict")
    x, t = _data()
    with pytest.raises(
        BackendMismatchError,
        match=r"Dense\(in_features=3.*'strict' backend.*numpy\.ndarray.*asarray\(x\)",
    ):
        model.forward(x, train=True)
    strict = nb.get_backend("strict")
    y = model(strict.asarray(x))
    with pytest.raises(BackendMismatchError, match=r"MSE \(target\).*'strict'"):
        nb.losses.MSE(backend="strict").forward(y, t)


def test_model_to_strict_and_back_keeps_values_and_identity() -> None:
    model = _model("numpy")
    x, _ = _data()
    params = model.parameters()
    before = {n: p.value.copy() for n, p in model.named_parameters().items()}
    y_numpy = model(x)
    assert model.to("strict") is model
    strict = nb.get_backend("strict")
    assert model.parameters() == params
    for name, p in model.named_parameters().items():
        assert isinstance(p.value, StrictArray) and isinstance(p.grad, StrictArray)
        np.testing.assert_array_equal(strict.to_host(p.value), before[name])
    np.testing.assert_array_equal(strict.to_host(model(strict.asarray(x))), y_numpy)
    model.to("numpy")
    for name, p in model.named_parameters().items():
        assert type(p.value) is np.ndarray and type(p.grad) is np.ndarray
        np.testing.assert_array_equal(p.value, before[name])
    np.testing.assert_array_equal(model(x), y_numpy)


def test_optimizer_state_dict_is_host_data_and_resumes_exactly() -> None:
    strict = nb.get_backend("strict")
    x_host, t_host = _data()
    x, t = strict.asarray(x_host), strict.asarray(t_host)
    loss = nb.losses.MSE(backend="strict")

    def step(model: nb.Layer, optimizer: nb.Optimizer) -> None:
        optimizer.zero_grad()
        y, backward = model.forward(x, train=True)
        backward(loss.forward(y, t)[1])
        optimizer.step()

    model = _model("strict")
    optimizer = nb.optimizers.SGD(lr=0.05, momentum=0.9).bind(model)
    step(model, optimizer)
    state = optimizer.state_dict()
    assert set(state["slots"]) == {"0.W", "0.b", "2.W", "2.b"}
    for slots in state["slots"].values():
        assert all(type(v) is np.ndarray for v in slots.values())

    twin = _model("strict")
    for p, q in zip(twin.parameters(), model.parameters(), strict=True):
        p.assign(strict.to_host(q.value))
    twin_optimizer = nb.optimizers.SGD(lr=0.05, momentum=0.9).bind(twin)
    twin_optimizer.load_state_dict(state)
    step(model, optimizer)
    step(twin, twin_optimizer)
    for p, q in zip(twin.parameters(), model.parameters(), strict=True):
        np.testing.assert_array_equal(strict.to_host(p.value), strict.to_host(q.value))


@pytest.mark.parametrize(
    "make",
    [
        lambda: nb.layers.Dense(3, 4, dtype="float64"),
        lambda: nb.layers.Sigmoid(),
        lambda: nb.layers.ReLU(),
        lambda: _model("strict"),
    ],
    ids=["Dense", "Sigmoid", "ReLU", "Sequential"],
)
def test_gradient_checks_run_on_the_strict_backend(make: Callable[[], nb.Layer]) -> None:
    with use_strict_backend():
        layer = make()
    assert layer.backend.name == "strict"
    assert all(isinstance(p.value, StrictArray) for p in layer.parameters())
    x = np.random.default_rng(2).normal(size=(5, 3)) + 0.05  # keep ReLU off its kink
    report = check_layer_gradients(layer, x, mode="exact")
    assert report.worst < 1e-6
    assert "input" in report.errors


def test_loss_gradient_check_runs_on_the_strict_backend() -> None:
    rng = np.random.default_rng(4)
    report = check_loss_gradients(
        nb.losses.MSE(backend="strict"), rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    )
    assert report.worst < 1e-6
