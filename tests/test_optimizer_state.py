"""Optimizer.load_state_dict: every bad state is refused before anything is applied.

Each refused state must raise a ValueError naming the key, what was expected and what
was found, and leave the optimizer exactly as it was: the same state_dict(), and the
same next step as a twin that never saw the bad state. Good states still round-trip
bitwise (float64), through JSON too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import ShapeError

OptFactory = Callable[[], nb.Optimizer]


def _model() -> nb.Sequential:
    nb.seed(3)
    return nb.Sequential(
        nb.layers.Dense(3, 4, dtype="float64"),
        nb.layers.Tanh(),
        nb.layers.Dense(4, 2, dtype="float64"),
    )


def _steps(model: nb.Layer, opt: nb.Optimizer, steps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    loss = nb.losses.MSE()
    for _ in range(steps):
        x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
        pred, backward = model.forward(x, train=True)
        _, dpred = loss.forward(pred, y)
        backward(dpred)
        opt.step()
        opt.zero_grad()


def _adam_clipped() -> nb.Optimizer:
    return nb.optimizers.Adam(lr=0.01, transforms=[nb.transforms.ClipByGlobalNorm(0.5)])


def _sgd_momentum() -> nb.Optimizer:
    return nb.optimizers.SGD(lr=0.05, momentum=0.9)


def _trained(factory: OptFactory, steps: int = 2) -> tuple[nb.Sequential, nb.Optimizer]:
    model = _model()
    opt = factory().bind(model)
    _steps(model, opt, steps, seed=0)
    return model, opt


def _values(model: nb.Layer) -> dict[str, np.ndarray]:
    return {k: p.value.copy() for k, p in model.named_parameters().items()}


def _assert_same(a: Any, b: Any, where: str = "state") -> None:
    """Deep, bitwise equality of two states (arrays by dtype, shape and bits)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray | np.generic):
        assert np.asarray(a).dtype == np.asarray(b).dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where, strict=True)
    else:
        assert type(a) is type(b) and a == b, where


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(type(value).__name__)


# -- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "factory",
    [
        _sgd_momentum,
        lambda: nb.optimizers.SGD(lr=0.05, momentum=0.9, nesterov=True),
        lambda: nb.optimizers.Adam(lr=0.01, weight_decay=1e-3),
        _adam_clipped,
        lambda: nb.optimizers.SGD(
            lr=0.05, momentum=0.5, transforms=[nb.transforms.ClipByGlobalNorm(0.5)]
        ),
    ],
    ids=["sgd-momentum", "sgd-nesterov", "adam", "adam-clip", "sgd-clip"],
)
@pytest.mark.parametrize("through_json", [False, True], ids=["dict", "json"])
def test_round_trip_resumes_bitwise(factory: OptFactory, through_json: bool) -> None:
    model, opt = _trained(factory, steps=3)
    saved_values, state = _values(model), opt.state_dict()
    _steps(model, opt, 4, seed=7)
    expected = _values(model)

    fresh_model = _model()
    for k, p in fresh_model.named_parameters().items():
        p.assign(saved_values[k])
    fresh = factory().bind(fresh_model)
    loaded = json.loads(json.dumps(state, default=_jsonable)) if through_json else state
    fresh.load_state_dict(loaded)
    _assert_same(fresh.state_dict(), state)
    _steps(fresh_model, fresh, 4, seed=7)
    _assert_same(_values(fresh_model), expected)
    _assert_same(fresh.state_dict(), opt.state_dict())


def test_clip_state_round_trips_its_0d_norm() -> None:
    _, opt = _trained(_adam_clipped)
    state = opt.state_dict()
    (norm,) = state["transform_state"]
    assert isinstance(norm, np.ndarray) and norm.shape == () and norm > 0
    fresh = _adam_clipped().bind(_model())
    fresh.load_state_dict(state)
    (restored,) = fresh.transform_state[0]
    assert restored.shape == () and restored.dtype == np.float64 and restored == norm


def test_sgd_velocity_is_a_lazy_slot_both_ways() -> None:
    assert nb.optimizers.SGD.lazy_slots == frozenset({"velocity"})
    assert nb.optimizers.Adam.lazy_slots == frozenset()
    _, stepped = _trained(_sgd_momentum)
    before_first_step = _sgd_momentum().bind(_model()).state_dict()
    assert before_first_step["slots"]["0.W"] == {}
    # a state saved before the first step has no velocity: loading it drops ours
    stepped.load_state_dict(before_first_step)
    assert stepped.state_dict()["slots"]["0.W"] == {}
    # and a state saved after it creates the velocity in a fresh optimizer
    _, other = _trained(_sgd_momentum)
    fresh = _sgd_momentum().bind(_model())
    fresh.load_state_dict(other.state_dict())
    _assert_same(fresh.state_dict()["slots"], other.state_dict()["slots"])


# -- refused states ----------------------------------------------------------------------


def _without(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda s: {k: v for k, v in s.items() if k != key}


def _set(*path: Any, value: Any) -> Callable[[dict[str, Any]], Any]:
    def edit(state: dict[str, Any]) -> Any:
        out = copy.deepcopy(state)
        target = out
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return out

    return edit


def _drop(*path: Any) -> Callable[[dict[str, Any]], Any]:
    def edit(state: dict[str, Any]) -> Any:
        out = copy.deepcopy(state)
        target = out
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return out

    return edit


W = "state\\['slots'\\]\\['0.W'\\]"  # 0.W has shape (3, 4)
EXP_AVG = W + "\\['exp_avg'\\]"
ADAM_BAD: list[tuple[str, Callable[[dict[str, Any]], Any], type[Exception], str]] = [
    # what a state is
    ("none", lambda s: None, ValueError, r"an optimizer state is a mapping .* got None"),
    ("string", lambda s: "state.json", ValueError, r"is a mapping .* got 'state.json' \(str\)"),
    ("list", lambda s: list(s.items()), ValueError, r"is a mapping .* got \[\("),
    ("no slots", _without("slots"), ValueError, r"not those of an optimizer .*missing \['slots'\]"),
    ("no param_steps", _without("param_steps"), ValueError, r"missing \['param_steps'\]"),
    ("extra key", lambda s: {**s, "epoch": 3}, ValueError, r"unexpected \['epoch'\]"),
    ("type not str", _set("type", value=3), ValueError, r"state\['type'\] must be .*'Adam', got 3"),
    # hyperparameters
    (
        "hp none",
        _set("hyperparameters", value=None),
        ValueError,
        r"state\['hyperparameters'\] must be a mapping of hyperparameter name to value, got None",
    ),
    (
        "hp unknown",
        _set("hyperparameters", "momentum", value=0.9),
        ValueError,
        r"state\['hyperparameters'\] names \['momentum'\], which are not hyperparameters of Adam",
    ),
    (
        "hp missing",
        _drop("hyperparameters", "eps"),
        ValueError,
        r"state\['hyperparameters'\] lacks \['eps'\]",
    ),
    (
        "hp negative lr",
        _set("hyperparameters", "lr", value=-1.0),
        ValueError,
        r"state\['hyperparameters'\] holds a value Adam does not accept: lr must be a non-negative",
    ),
    (
        "hp string lr",
        _set("hyperparameters", "lr", value="0.1"),
        ValueError,
        r"does not accept: lr must be a non-negative number, got '0.1'",
    ),
    (
        "hp nan eps",
        _set("hyperparameters", "eps", value=float("nan")),
        ValueError,
        r"does not accept: Adam eps must be",
    ),
    (
        "hp int key",
        _set("hyperparameters", 1, value=0.1),
        ValueError,
        r"state\['hyperparameters'\] must be .* with string keys, got the key 1",
    ),
    # step counts
    (
        "step -1",
        _set("step_count", value=-1),
        ValueError,
        r"state\['step_count'\] must be a non-negative integer, got -1",
    ),
    (
        "step float",
        _set("step_count", value=2.0),
        ValueError,
        r"state\['step_count'\] must be a non-negative integer, got 2.0",
    ),
    (
        "step bool",
        _set("step_count", value=True),
        ValueError,
        r"state\['step_count'\] must be a non-negative integer, got True",
    ),
    (
        "step string",
        _set("step_count", value="2"),
        ValueError,
        r"state\['step_count'\] must be a non-negative integer, got '2'",
    ),
    (
        "step none",
        _set("step_count", value=None),
        ValueError,
        r"state\['step_count'\] must be a non-negative integer, got None",
    ),
    (
        "param_steps list",
        _set("param_steps", value=[2, 2, 2, 2]),
        ValueError,
        r"state\['param_steps'\] must be a mapping of parameter name to a count, got \[2",
    ),
    (
        "param_steps missing",
        _drop("param_steps", "0.W"),
        ValueError,
        r"names in state\['param_steps'\] differ .*missing \['0.W'\], unexpected \[\]",
    ),
    (
        "param_steps negative",
        _set("param_steps", "0.W", value=-1),
        ValueError,
        r"state\['param_steps'\]\['0.W'\] must be a non-negative integer, got -1",
    ),
    (
        "param_steps float",
        _set("param_steps", "0.b", value=1.5),
        ValueError,
        r"state\['param_steps'\]\['0.b'\] must be a non-negative integer, got 1.5",
    ),
    (
        "param_steps above step_count",
        _set("param_steps", "2.W", value=3),
        ValueError,
        r"state\['param_steps'\]\['2.W'\] must be at most state\['step_count'\] \(2\).*got 3",
    ),
    # slots: nesting and names
    (
        "slots none",
        _set("slots", value=None),
        ValueError,
        r"state\['slots'\] must be a mapping of parameter name to its slots, got None",
    ),
    (
        "slots list",
        lambda s: {**s, "slots": list(s["slots"].values())},
        ValueError,
        r"state\['slots'\] must be a mapping",
    ),
    (
        "slots flat",
        _set("slots", "0.W", value=np.zeros((3, 4))),
        ValueError,
        W + r" must be a mapping of slot name to array, got an array of shape \(3, 4\)",
    ),
    (
        "slots list of arrays",
        _set("slots", "0.W", value=[np.zeros((3, 4))] * 2),
        ValueError,
        W + r" must be a mapping of slot name to array, got \[array",
    ),
    (
        "slots another model",
        _drop("slots", "2.b"),
        ValueError,
        r"names in state\['slots'\] differ from the bound parameters: missing \['2.b'\]",
    ),
    (
        "slot missing",
        _drop("slots", "0.W", "exp_avg"),
        ValueError,
        W + r" lacks the slot 'exp_avg', which Adam keeps for every parameter "
        r"\(its slots: \['exp_avg', 'exp_avg_sq'\]\)",
    ),
    (
        "slot unknown",
        _set("slots", "0.W", "foo", value=np.zeros((3, 4))),
        ValueError,
        W
        + r" has the slot 'foo', which Adam does not keep \(its slots: \['exp_avg', 'exp_avg_sq'\]",
    ),
    (
        "slot renamed",
        _set("slots", "0.W", value={"exp_avg": np.zeros((3, 4)), "velocity": np.zeros((3, 4))}),
        ValueError,
        W + r" lacks the slot 'exp_avg_sq'",
    ),
    # slots: values
    (
        "slot nan",
        _set("slots", "0.W", "exp_avg", 1, 2, value=np.nan),
        ValueError,
        EXP_AVG + r" must hold finite numbers, got nan at index \(1, 2\)",
    ),
    (
        "slot inf",
        _set("slots", "0.W", "exp_avg_sq", 0, 0, value=np.inf),
        ValueError,
        W + r"\['exp_avg_sq'\] must hold finite numbers, got inf at index \(0, 0\)",
    ),
    (
        "exp_avg_sq negative",
        _set("slots", "0.W", "exp_avg_sq", 2, 1, value=-0.5),
        ValueError,
        W + r"\['exp_avg_sq'\] must be >= 0 \(a running mean of squared gradients.*got -0.5 "
        r"at index \(2, 1\)",
    ),
    (
        "slot transposed",
        _set("slots", "0.W", "exp_avg", value=np.zeros((4, 3))),
        ShapeError,
        EXP_AVG + r" must be a finite real array of shape \(3, 4\), got an array of shape \(4, 3\)",
    ),
    (
        "slot flat",
        _set("slots", "0.W", "exp_avg", value=np.zeros(12)),
        ShapeError,
        EXP_AVG + r" must be a finite real array of shape \(3, 4\), got an array of shape \(12,\)",
    ),
    (
        "slot scalar",
        _set("slots", "0.W", "exp_avg", value=0.0),
        ShapeError,
        EXP_AVG + r" must be a finite real array of shape \(3, 4\), got an array of shape \(\)",
    ),
    (
        "slot strings",
        _set("slots", "0.W", "exp_avg", value=np.full((3, 4), "a")),
        ValueError,
        EXP_AVG + r" must be a finite real array of shape \(3, 4\), got an array of shape \(3, 4\) "
        r"and dtype <U1",
    ),
    (
        "slot none",
        _set("slots", "0.W", "exp_avg", value=None),
        ValueError,
        EXP_AVG + r" must be a finite real array of shape \(3, 4\), got None",
    ),
    (
        "slot dict",
        _set("slots", "0.W", "exp_avg", value={"a": 1}),
        ValueError,
        EXP_AVG + r" must be a finite real array .* got \{'a': 1\}",
    ),
    (
        "slot ragged",
        _set("slots", "0.W", "exp_avg", value=[[0.0] * 4, [0.0] * 3, [0.0]]),
        ValueError,
        EXP_AVG + r" must be a finite real array .* got \[\[0.0",
    ),
    (
        "slot bool",
        _set("slots", "0.W", "exp_avg", value=np.zeros((3, 4), bool)),
        ValueError,
        EXP_AVG + r" must be a finite real array .* dtype bool",
    ),
    (
        "slot complex",
        _set("slots", "0.W", "exp_avg", value=np.zeros((3, 4), complex)),
        ValueError,
        EXP_AVG + r" must be a finite real array .* dtype complex128",
    ),
    (
        "slot objects",
        _set("slots", "0.W", "exp_avg", value=np.full((3, 4), None)),
        ValueError,
        EXP_AVG + r" must be a finite real array .* dtype object",
    ),
    # transform state
    (
        "transforms none",
        _set("transform_state", value=None),
        ValueError,
        r"state\['transform_state'\] must be a list of the transform state's leaves, got None",
    ),
    (
        "transforms string",
        _set("transform_state", value="norm"),
        ValueError,
        r"state\['transform_state'\] must be a list .* got 'norm'",
    ),
    (
        "transforms empty",
        _set("transform_state", value=[]),
        ValueError,
        r"state\['transform_state'\] has 0 entries but this optimizer's transforms .* hold 1\. "
        r"Resume with the same transforms",
    ),
    (
        "transforms two",
        _set("transform_state", value=[1.0, 2.0]),
        ValueError,
        r"state\['transform_state'\] has 2 entries .* hold 1",
    ),
    (
        "transform leaf vector",
        _set("transform_state", 0, value=np.ones(3)),
        ValueError,
        r"state\['transform_state'\]\[0\] must be an array of shape \(\) holding float64 values, "
        r"got an array of shape \(3,\)",
    ),
    (
        "transform leaf string",
        _set("transform_state", 0, value="1.0"),
        ValueError,
        r"state\['transform_state'\]\[0\] must be an array of shape \(\) .* got '1.0'",
    ),
    (
        "transform leaf nested",
        _set("transform_state", 0, value={"global_norm": 1.0}),
        ValueError,
        r"state\['transform_state'\]\[0\] must be an array of shape \(\)",
    ),
]


def _step_once(model: nb.Layer, opt: nb.Optimizer) -> dict[str, np.ndarray]:
    _steps(model, opt, 1, seed=11)
    return _values(model)


def _check_refused(factory: OptFactory, bad: Any, error: type[Exception], match: str) -> None:
    model, opt = _trained(factory)
    twin_model, twin = _trained(factory)
    before = opt.state_dict()
    with pytest.raises(error, match=match):
        opt.load_state_dict(bad)
    _assert_same(opt.state_dict(), before)
    _assert_same(_step_once(model, opt), _step_once(twin_model, twin))
    _assert_same(opt.state_dict(), twin.state_dict())


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [case[1:] for case in ADAM_BAD],
    ids=[case[0] for case in ADAM_BAD],
)
def test_a_bad_adam_state_is_refused_and_changes_nothing(
    edit: Callable[[dict[str, Any]], Any], error: type[Exception], match: str
) -> None:
    _, source = _trained(_adam_clipped, steps=2)
    bad = edit(source.state_dict())
    _check_refused(_adam_clipped, bad, error, match)


def test_every_refusal_says_how_to_fix_it() -> None:
    _, source = _trained(_adam_clipped)
    opt = _trained(_adam_clipped)[1]
    for _, edit, _, _ in ADAM_BAD:
        with pytest.raises(ValueError, match=r"Cannot load|saved") as info:
            opt.load_state_dict(edit(source.state_dict()))
        message = str(info.value)
        assert any(
            hint in message
            for hint in ("state_dict() returned", "Resume with", "saved from", "load an earlier")
        ), message


SGD_BAD: list[tuple[str, Callable[[dict[str, Any]], Any], type[Exception], str]] = [
    (
        "adam slot",
        _set("slots", "0.W", "exp_avg", value=np.zeros((3, 4))),
        ValueError,
        W + r" has the slot 'exp_avg', which SGD does not keep \(its slots: \['velocity'\]; an "
        r"optimizer whose update creates slots declares them in lazy_slots\)",
    ),
    (
        "velocity shape",
        _set("slots", "0.b", "velocity", value=np.zeros((4, 1))),
        ShapeError,
        r"state\['slots'\]\['0.b'\]\['velocity'\] must be a finite real array of shape \(4,\), "
        r"got an array of shape \(4, 1\)",
    ),
    (
        "velocity nan",
        _set("slots", "2.b", "velocity", 1, value=np.nan),
        ValueError,
        r"state\['slots'\]\['2.b'\]\['velocity'\] must hold finite numbers, "
        r"got nan at index \(1,\)",
    ),
    (
        "velocity -inf",
        _set("slots", "2.W", "velocity", value=np.full((4, 2), -np.inf)),
        ValueError,
        r"\['velocity'\] must hold finite numbers, got -inf at index \(0, 0\)",
    ),
    (
        "velocity list of strings",
        _set("slots", "2.b", "velocity", value=["0", "0"]),
        ValueError,
        r"\['velocity'\] must be a finite real array of shape \(2,\), got \['0', '0'\]",
    ),
    (
        "momentum negative",
        _set("hyperparameters", "momentum", value=-0.5),
        ValueError,
        r"does not accept: SGD momentum must be a non-negative number, got -0.5",
    ),
    (
        "transform state for no transform",
        _set("transform_state", value=[np.zeros(())]),
        ValueError,
        r"state\['transform_state'\] has 1 entries but this optimizer's transforms \[\] hold 0",
    ),
    (
        "adam state",
        lambda s: _trained(_adam_clipped)[1].state_dict(),
        ValueError,
        r"into SGD: state\['type'\] must be 'SGD', got 'Adam': the state was saved from another "
        r"kind of optimizer\. Build Adam\(\.\.\.\)",
    ),
]


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [case[1:] for case in SGD_BAD],
    ids=[case[0] for case in SGD_BAD],
)
def test_a_bad_sgd_state_is_refused_and_changes_nothing(
    edit: Callable[[dict[str, Any]], Any], error: type[Exception], match: str
) -> None:
    _, source = _trained(_sgd_momentum)
    _check_refused(_sgd_momentum, edit(source.state_dict()), error, match)


def test_a_fresh_sgd_refuses_a_bad_velocity_too() -> None:
    # before its first step an SGD holds no velocity: the expected shape is the parameter's
    fresh = _sgd_momentum().bind(_model())
    _, source = _trained(_sgd_momentum)
    bad = _set("slots", "0.W", "velocity", value=np.zeros((4, 3)))(source.state_dict())
    with pytest.raises(ShapeError, match=r"\['velocity'\] must be a finite real array of shape"):
        fresh.load_state_dict(bad)
    assert fresh.state_dict()["slots"]["0.W"] == {} and fresh.step_count == 0


def test_a_value_overflowing_the_slot_dtype_is_refused() -> None:
    layer = nb.layers.Dense(2, 1, dtype="float32", init="zeros")
    opt = nb.optimizers.Adam(lr=0.1).bind(layer)
    state = opt.state_dict()
    state["slots"]["W"]["exp_avg"] = np.full((2, 1), 1e300)  # finite in float64, inf in float32
    with pytest.raises(ValueError, match=r"got 1e\+300 \(not finite as float32\) at index"):
        opt.load_state_dict(state)
    assert not opt.state_dict()["slots"]["W"]["exp_avg"].any()


def test_a_plain_transform_leaf_keeps_its_kind() -> None:
    class Count(nb.GradientTransform):
        def init(self, params: Any, *, backend: Any) -> dict[str, Any]:
            return {"calls": 0, "scale": 1.0}

        def update(self, grads: Any, state: Any, params: Any, *, backend: Any) -> Any:
            return grads, {"calls": state["calls"] + 1, "scale": state["scale"] * 0.5}

    def factory() -> nb.Optimizer:
        return nb.optimizers.SGD(lr=0.1, transforms=[Count()])

    _, source = _trained(factory, steps=3)
    state = source.state_dict()
    assert state["transform_state"] == [3, 0.125]
    fresh = factory().bind(_model())
    fresh.load_state_dict(json.loads(json.dumps(state, default=_jsonable)))
    assert fresh.transform_state == ({"calls": 3, "scale": 0.125},)
    for leaves, match in [
        ([3.5, 0.125], r"\[0\] must be an integer, got 3.5"),
        ([True, 0.125], r"\[0\] must be an integer, got True"),
        ([3, "0.125"], r"\[1\] must be a number, got '0.125'"),
    ]:
        with pytest.raises(ValueError, match=match):
            fresh.load_state_dict({**state, "transform_state": leaves})
    assert fresh.transform_state == ({"calls": 3, "scale": 0.125},)
