"""The strategy kind in one process: choosing one, its contract, and what the Trainer
checks and does differently when a strategy spans several processes.

A stand-in strategy that *says* it is rank 1 of 2 (its collectives act as if the other
rank held the same numbers) shows the Trainer's behaviour on a non-main rank without
launching MPI; tests/distributed/test_mpi.py runs the real thing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import ComponentNotFoundError, ConfigError
from neuroback.testing import ConformanceError, check_strategy


class _SecondOfTwo(nb.SingleProcess):
    """Rank 1 of 2, whose partner holds the same numbers."""

    @property
    def rank(self) -> int:
        return 1

    @property
    def world_size(self) -> int:
        return 2

    def allreduce_sum(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array) * 2

    def allgather(self, obj: Any) -> list[Any]:
        return [obj, obj]

    def allreduce_sum_into(self, array: Any, backend: Any) -> None:
        array *= 2


def _trainer(**kwargs: Any) -> nb.Trainer:
    model = nb.Sequential(nb.layers.Dense(3, 2, dtype="float64"))
    return nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.1), seed=0, **kwargs)


def test_the_default_is_one_process() -> None:
    trainer = _trainer()
    assert isinstance(trainer.strategy, nb.SingleProcess)
    assert (trainer.strategy.rank, trainer.strategy.world_size) == (0, 1)


def test_a_strategy_is_chosen_by_name_spec_or_instance() -> None:
    assert isinstance(_trainer(strategy="single").strategy, nb.SingleProcess)
    assert type(_trainer(strategy={"type": "single"}).strategy) is nb.SingleProcess
    mine = nb.SingleProcess()
    assert _trainer(strategy=mine).strategy is mine
    assert sorted(nb.strategies.names()) == ["mpi", "single"]


def test_a_wrong_strategy_is_named() -> None:
    with pytest.raises(ComponentNotFoundError, match="No strategy named 'mip'"):
        _trainer(strategy="mip")
    with pytest.raises(TypeError, match="got the class SingleProcess"):
        _trainer(strategy=nb.SingleProcess)


def test_the_kit_passes_the_built_ins_and_catches_a_wrong_shard() -> None:
    check_strategy(nb.SingleProcess())

    class GreedyShard(_SecondOfTwo):
        def shard(self, n: int) -> slice:
            return slice(0, n)  # every rank takes the whole batch: counted twice

    nb.register(GreedyShard, name="greedy-for-kit-test")
    with pytest.raises(ConformanceError, match="shard is this rank's part"):
        check_strategy(GreedyShard())


def test_shard_splits_like_array_split() -> None:
    parts = []
    for rank in range(3):

        class Rank(nb.SingleProcess):
            @property
            def rank(self) -> int:
                return rank  # noqa: B023  (read while the loop variable holds this rank)

            @property
            def world_size(self) -> int:
                return 3

        parts.append(Rank().shard(10))
    assert parts == [slice(0, 4), slice(4, 7), slice(7, 10)]


def test_output_callbacks_run_on_the_main_process_only() -> None:
    bar, stopper = nb.callbacks.ProgressBar(), nb.callbacks.EarlyStopping("loss", patience=1)
    trainer = _trainer(strategy=_SecondOfTwo(), callbacks=[bar, stopper])
    assert trainer.callbacks == [stopper]
    assert _trainer(callbacks=[bar, stopper]).callbacks == [bar, stopper]


def test_the_global_batch_must_split_evenly() -> None:
    trainer = _trainer(strategy=_SecondOfTwo())
    x, y = np.zeros((10, 3)), np.zeros((10, 2))
    with pytest.raises(ValueError, match="batch_size=5 is the global batch, split across 2"):
        trainer.fit(x, y, epochs=1, batch_size=5)
    trainer.fit(x, y, epochs=1, batch_size=4)  # 4 splits; the last batch of 2 too


def test_a_batch_iterable_is_refused_under_several_processes() -> None:
    trainer = _trainer(strategy=_SecondOfTwo())
    batches = [(np.zeros((4, 3)), np.zeros((4, 2)))]
    with pytest.raises(TypeError, match="does not split itself across the ranks"):
        trainer.fit(batches, epochs=1, batch_size=4)


def test_a_rank_trains_on_its_part_of_each_batch() -> None:
    trainer = _trainer(strategy=_SecondOfTwo())
    x = np.arange(15.0).reshape(5, 3)
    trainer.train_step(x, np.zeros((5, 2)))
    xb, _ = trainer.last_batch
    np.testing.assert_array_equal(xb, x[3:])  # rank 1 of 2 takes 2 of 5 samples


def test_the_config_key_and_its_check() -> None:
    from neuroback.run_config import TRAINER_KEYS, check_config, parse_config

    assert TRAINER_KEYS["strategy"] == "single"
    text = """
[data]
dataset = "noisy_sine"
[model]
layers = [{type = "Dense", config = {in_features = 1, out_features = 1}}]
[loss]
type = "MSE"
[optimizer]
type = "SGD"
[trainer]
strategy = "mpy"
"""
    with pytest.raises(ConfigError, match=r"\[trainer\] strategy.*No strategy named 'mpy'"):
        check_config(parse_config(text, "t.toml"), text, "t.toml")


def test_a_missing_mpi4py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now fails
    with pytest.raises(ImportError, match=r'pip install "neuroback\[mpi\]"'):
        _trainer(strategy="mpi")
