"""ArrayLoader: every argument checked up front, every bad state refused before it applies."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import BackendMismatchError
from neuroback.training import ArrayLoader

N = 10


def _data(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(2.0 * n).reshape(n, 2), np.arange(n)


def _loader(seed: int = 0, n: int = N, **kw: Any) -> ArrayLoader:
    x, y = _data(n)
    args: dict[str, Any] = {
        "batch_size": 3,
        "shuffle": True,
        "backend": nb.get_backend(),
        "rng": np.random.default_rng(seed),
        **kw,
    }
    return ArrayLoader(x, y, **args)


def _labels(batches: Any) -> list[list[int]]:
    return [yb.tolist() for _, yb in batches]


# -- constructor arguments ---------------------------------------------------------------

BAD_ARGUMENTS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    (
        "batch 0",
        {"batch_size": 0},
        ValueError,
        r"ArrayLoader batch_size must be a positive integer, got 0",
    ),
    ("batch -2", {"batch_size": -2}, ValueError, r"batch_size must be a positive integer, got -2"),
    ("batch bool", {"batch_size": True}, ValueError, r"batch_size must be .*, got True"),
    ("batch float", {"batch_size": 2.5}, ValueError, r"batch_size must be .*, got 2.5"),
    ("batch string", {"batch_size": "4"}, ValueError, r"batch_size must be .*, got '4'"),
    ("batch none", {"batch_size": None}, ValueError, r"batch_size must be .*, got None"),
    (
        "shuffle string",
        {"shuffle": "yes"},
        ValueError,
        r"ArrayLoader shuffle must be True or False, got 'yes'",
    ),
    ("shuffle int", {"shuffle": 1}, ValueError, r"shuffle must be True or False, got 1"),
    ("shuffle none", {"shuffle": None}, ValueError, r"shuffle must be True or False, got None"),
    (
        "drop_last string",
        {"drop_last": "no"},
        ValueError,
        r"ArrayLoader drop_last must be True or False, got 'no'",
    ),
    (
        "rng string",
        {"rng": "seed"},
        ValueError,
        r"ArrayLoader rng must be a numpy.random.Generator, a non-negative integer seed or None"
        r".*got 'seed'",
    ),
    ("rng negative", {"rng": -1}, ValueError, r"rng must be .*, got -1"),
    ("rng bool", {"rng": True}, ValueError, r"rng must be .*, got True"),
    ("rng legacy", {"rng": np.random.RandomState(0)}, ValueError, r"rng must be .*RandomState"),
    (
        "backend name",
        {"backend": "numpy"},
        TypeError,
        r"ArrayLoader backend must be a neuroback Backend, got str. Pass neuroback.get_backend",
    ),
    (
        "no full batch",
        {"batch_size": 11, "drop_last": True},
        ValueError,
        r"With drop_last=True and batch_size=11, the 10 samples make no full batch"
        r".*Lower batch_size",
    ),
]


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [case[1:] for case in BAD_ARGUMENTS],
    ids=[case[0] for case in BAD_ARGUMENTS],
)
def test_bad_arguments_are_refused_up_front(
    kw: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        _loader(**kw)


@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        (
            np.zeros((5, 2)),
            np.zeros(4),
            ValueError,
            r"ArrayLoader x and y must hold the same number of samples along axis 0, got 5 inputs "
            r"\(x of shape \(5, 2\)\) and 4 targets \(y of shape \(4,\)\)\. Pass one target per",
        ),
        (np.zeros((4, 2)), np.zeros((6, 1)), ValueError, r"got 4 inputs .* and 6 targets"),
        (
            np.array(1.0),
            None,
            ValueError,
            r"ArrayLoader x must have a sample axis \(axis 0\), got a scalar \(shape \(\)\)",
        ),
        (np.zeros((3, 1)), np.array(2.0), ValueError, r"ArrayLoader y must have a sample axis"),
        (
            np.zeros((0, 2)),
            None,
            ValueError,
            r"ArrayLoader x has no samples \(shape \(0, 2\)\): there is nothing to batch",
        ),
        (
            [[1.0], [2.0]],
            None,
            BackendMismatchError,
            r"ArrayLoader x lives on the 'numpy' backend but was given a builtins.list.*asarray",
        ),
        (np.zeros((3, 1)), [0, 1, 2], BackendMismatchError, r"ArrayLoader y lives on the 'numpy'"),
    ],
    ids=["y shorter", "y longer", "x scalar", "y scalar", "x empty", "x list", "y list"],
)
def test_bad_arrays_are_refused_up_front(
    x: Any, y: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ArrayLoader(x, y, batch_size=2, shuffle=True, backend=nb.get_backend())


def test_good_arguments_still_work() -> None:
    loader = _loader(batch_size=np.int64(4), shuffle=np.bool_(False), rng=7)
    assert len(loader) == 3 and _labels(loader.epoch()) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(_loader(batch_size=25)) == 1  # one short batch, without drop_last
    assert len(_loader(batch_size=10, drop_last=True)) == 1
    seeded = [_labels(_loader(rng=3).epoch()) for _ in range(2)]
    assert seeded[0] == seeded[1]  # an int seed gives a seeded generator
    x, _ = _data()
    assert [
        xb.shape
        for xb, yb in ArrayLoader(
            x, None, batch_size=6, shuffle=False, backend=nb.get_backend()
        ).epoch()
    ] == [(6, 2), (4, 2)]


# -- load_state_dict ---------------------------------------------------------------------


def _mid_epoch_state(seed: int = 5) -> dict[str, Any]:
    loader = _loader(seed=seed)
    _labels(loader.epoch())
    batches = loader.epoch()
    next(batches)
    return loader.state_dict()  # epoch 1, offset 3, a shuffled order


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda s: {**copy.deepcopy(s), key: value}


def _order(edit: Callable[[list[int]], Any]) -> Callable[[dict[str, Any]], Any]:
    return lambda s: {**s, "order": edit(list(s["order"]))}


def _swap_first(order: list[int], value: Any) -> list[Any]:
    return [value, *order[1:]]


PERMUTATION = r"state\['order'\] must be None or a permutation of range\(10\)"
BAD_STATES: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("none", lambda s: None, r"a loader state is a mapping with the keys .* got None"),
    ("string", lambda s: "loader.json", r"a loader state is a mapping .* got 'loader.json'"),
    ("list", lambda s: list(s.values()), r"a loader state is a mapping .* got \[1,"),
    (
        "no rng",
        lambda s: {k: v for k, v in s.items() if k != "rng"},
        r"its keys are not those of a loader state .*: missing \['rng'\], unexpected \[\]",
    ),
    ("extra key", lambda s: {**s, "batch": 2}, r"missing \[\], unexpected \['batch'\]"),
    (
        "optimizer state",
        lambda s: {"type": "SGD", "slots": {}},
        r"missing \['epoch', 'order', 'offset', 'rng'\], unexpected \['slots', 'type'\]",
    ),
    ("epoch -1", _set("epoch", -1), r"state\['epoch'\] must be a non-negative integer, got -1"),
    (
        "epoch float",
        _set("epoch", 1.0),
        r"state\['epoch'\] must be a non-negative integer, got 1.0",
    ),
    ("epoch bool", _set("epoch", True), r"state\['epoch'\] must be .* integer, got True"),
    ("epoch none", _set("epoch", None), r"state\['epoch'\] must be .* integer, got None"),
    ("offset -3", _set("offset", -3), r"state\['offset'\] must be a non-negative integer, got -3"),
    ("offset string", _set("offset", "3"), r"state\['offset'\] must be .* integer, got '3'"),
    (
        "offset past the end",
        _set("offset", 11),
        r"state\['offset'\] must be at most the number of samples \(10\), got 11",
    ),
    (
        "offset between epochs",
        lambda s: {**s, "order": None},
        r"state\['offset'\] must be 0 when state\['order'\] is None \(between epochs\), got 3",
    ),
    (
        "order short",
        _order(lambda o: o[:-1]),
        r"covers 9 samples but the data has 10: " + PERMUTATION + r".*same dataset",
    ),
    (
        "order long",
        _order(lambda o: [*o, 3]),
        r"covers 11 samples but the data has 10: " + PERMUTATION,
    ),
    (
        "order duplicate",
        _order(lambda o: [x if x != 5 else 3 for x in o]),
        PERMUTATION + r".*got the index 3 repeated \(and 5 missing\)",
    ),
    (
        "order too big",
        _order(lambda o: [x if x != 9 else 10 for x in o]),
        PERMUTATION + r".*got the index 10, outside 0\.\.9",
    ),
    (
        "order negative",
        _order(lambda o: [x if x != 0 else -1 for x in o]),
        PERMUTATION + r".*got the index -1, outside 0\.\.9",
    ),
    ("order floats", _order(lambda o: [float(x) for x in o]), PERMUTATION + r".*got \[\d\.0,"),
    (
        "order bools",
        _order(lambda o: [bool(x % 2) for x in o]),
        PERMUTATION + r".*got \[(True|False)",
    ),
    ("order string", _set("order", "0123456789"), PERMUTATION + r".*got '0123456789' \(str\)"),
    ("order number", _set("order", 10), PERMUTATION + r".*got 10 \(int\)"),
    ("order 2-d", _order(lambda o: [o[:5], o[5:]]), PERMUTATION + r".*got \[\["),
    ("order ragged", _order(lambda o: [o[:3], o[3:]]), PERMUTATION + r".*got \[\["),
    ("order mixed", _order(lambda o: _swap_first(o, "0")), PERMUTATION),
    ("order nan", _order(lambda o: _swap_first(o, float("nan"))), PERMUTATION + r".*got \[nan,"),
    (
        "rng none",
        _set("rng", None),
        r"state\['rng'\] must be the state of a PCG64 bit generator .*got None",
    ),
    ("rng string", _set("rng", "pcg"), r"state\['rng'\] must be the state of a PCG64 .*got 'pcg'"),
    ("rng empty", _set("rng", {}), r"state\['rng'\] must be the state of a PCG64"),
    (
        "rng other kind",
        _set("rng", np.random.MT19937(0).state),
        r"state\['rng'\] must be the state of a PCG64 bit generator.*'MT19937'",
    ),
    (
        "rng bad state",
        lambda s: {**s, "rng": {**s["rng"], "state": "x"}},
        r"state\['rng'\] must be the state of a PCG64",
    ),
]


@pytest.mark.parametrize(
    ("edit", "match"), [case[1:] for case in BAD_STATES], ids=[case[0] for case in BAD_STATES]
)
def test_a_bad_state_is_refused_and_changes_nothing(
    edit: Callable[[dict[str, Any]], Any], match: str
) -> None:
    bad = edit(_mid_epoch_state())
    loader, twin = _loader(seed=2), _loader(seed=2)
    next(loader.epoch())  # a position of its own (mid-epoch), which must survive
    next(twin.epoch())
    before = loader.state_dict()
    with pytest.raises(ValueError, match=match) as info:
        loader.load_state_dict(bad)
    assert "state_dict() returned" in str(info.value) or "Resume with" in str(info.value)
    assert loader.state_dict() == before
    assert [_labels(loader.epoch()) for _ in range(2)] == [_labels(twin.epoch()) for _ in range(2)]


def test_a_shuffled_order_is_refused_by_a_loader_that_does_not_shuffle() -> None:
    loader = _loader(shuffle=False)
    with pytest.raises(
        ValueError,
        match=r"state\['order'\] is shuffled but this loader has "
        r"shuffle=False.*Build the loader with shuffle=True",
    ):
        loader.load_state_dict(_mid_epoch_state())
    assert loader.state_dict()["order"] is None
    in_sequence = {**_mid_epoch_state(), "order": list(range(N))}
    loader.load_state_dict(in_sequence)  # its own kind of order is fine
    assert _labels(loader.epoch()) == [[3, 4, 5], [6, 7, 8], [9]]


def test_a_valid_state_resumes_exactly_also_through_json() -> None:
    reference = _loader(seed=5)
    expected = [_labels(reference.epoch()) for _ in range(3)]
    state = _mid_epoch_state(seed=5)
    for saved in (state, json.loads(json.dumps(state))):
        resumed = _loader(seed=123)
        resumed.load_state_dict(saved)
        assert resumed.state_dict() == state
        rest = _labels(resumed.epoch())
        assert rest == expected[1][1:]
        assert _labels(resumed.epoch()) == expected[2]
    # a numpy order (a hand-made state) is accepted too, and stored as int64
    resumed = _loader(seed=123)
    resumed.load_state_dict({**state, "order": np.asarray(state["order"], dtype=np.uint8)})
    assert _labels(resumed.epoch()) == expected[1][1:]


def test_a_state_between_epochs_and_at_the_end_of_one() -> None:
    loader = _loader(seed=1)
    _labels(loader.epoch())
    between = loader.state_dict()
    assert between["order"] is None and between["offset"] == 0 and between["epoch"] == 1
    twin = _loader(seed=99)
    twin.load_state_dict(between)
    assert _labels(twin.epoch()) == _labels(loader.epoch())
    at_end = {**_mid_epoch_state(), "offset": N}
    done = _loader()
    done.load_state_dict(at_end)
    assert _labels(done.epoch()) == [] and done.state_dict()["epoch"] == 2


def test_a_generator_of_another_kind_is_restored_with_its_own_kind() -> None:
    x, y = _data()
    make = lambda seed: ArrayLoader(  # noqa: E731
        x,
        y,
        batch_size=4,
        shuffle=True,
        backend=nb.get_backend(),
        rng=np.random.Generator(np.random.MT19937(seed)),
    )
    source = make(0)
    state = source.state_dict()
    resumed = make(1)
    resumed.load_state_dict(state)
    assert _labels(resumed.epoch()) == _labels(source.epoch())
    with pytest.raises(ValueError, match=r"state of a PCG64 bit generator"):
        _loader().load_state_dict(state)
