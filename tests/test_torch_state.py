"""PyTorch-style state dicts in safetensors files: PyTorch's own files in, ours out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import StateMismatchError

pytestmark = pytest.mark.oracle


def _nb_cnn() -> nb.Sequential:
    L = nb.layers
    return nb.Sequential(
        L.Conv2D(1, 4, 3, padding=1, dtype="float64", rng=0),
        L.BatchNorm(4, dtype="float64"),
        L.ReLU(),
        L.MaxPool2D(2),
        L.Flatten(),
        L.Dense(4 * 4 * 4, 8, dtype="float64", rng=1),
        L.Tanh(),
        L.Dense(8, 3, dtype="float64", rng=2),
    )


def _torch_cnn(torch: Any) -> Any:
    nn = torch.nn
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 8),
        nn.Tanh(),
        nn.Linear(8, 3),
    ).double()


def _images(seed: int, n: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 1, 8, 8))


def test_a_model_trained_in_pytorch_predicts_the_same_here(torch: Any, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    module = _torch_cnn(torch)
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    for step in range(3):  # moves the weights and BatchNorm's running statistics
        x = torch.tensor(_images(step, 16))
        loss = module(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    module.eval()
    save_file(module.state_dict(), str(tmp_path / "torch.safetensors"))

    model = _nb_cnn()
    nb.load_torch_state(model, tmp_path / "torch.safetensors")
    x = _images(10)
    expected = module(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        model[1].state("running_var"), module[1].running_var.numpy(), rtol=1e-12
    )


def test_a_model_trained_here_predicts_the_same_in_pytorch(torch: Any, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    model = _nb_cnn()
    trainer = nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.05), seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        trainer.train_step(rng.normal(size=(16, 1, 8, 8)), rng.normal(size=(16, 3)))
    path = nb.save_torch_state(model, tmp_path / "nb.safetensors")

    module = _torch_cnn(torch)
    module.load_state_dict(load_file(str(path)))  # strict: every name PyTorch expects
    module.eval()
    x = _images(11)
    np.testing.assert_allclose(
        module(torch.tensor(x)).detach().numpy(), model(x), rtol=1e-10, atol=1e-12
    )


def test_dense_weight_is_the_transpose_of_linear_weight() -> None:
    dense = nb.layers.Dense(3, 2, dtype="float64", rng=0)
    state = nb.to_torch_state_dict(nb.Sequential(dense))
    np.testing.assert_array_equal(state["0.weight"], dense.W.value.T)
    assert state["0.weight"].flags.c_contiguous


def test_batchnorm_writes_num_batches_tracked_and_ignores_it_on_reading() -> None:
    model = nb.Sequential(nb.layers.BatchNorm(3, dtype="float64"))
    state = nb.to_torch_state_dict(model)
    assert state["0.num_batches_tracked"].dtype == np.int64
    state["0.num_batches_tracked"] = np.asarray(7)
    state["0.running_mean"] = np.array([1.0, 2.0, 3.0])
    nb.from_torch_state_dict(model, state)
    np.testing.assert_array_equal(model[0].state("running_mean"), [1.0, 2.0, 3.0])


def test_a_refused_state_dict_lists_every_problem_and_changes_nothing() -> None:
    model = _nb_cnn()
    before = model.state_dict()
    state = nb.to_torch_state_dict(model)
    del state["0.bias"]
    state["5.weight"] = state["5.weight"].T  # Dense weight not transposed
    state["9.weight"] = np.zeros(2)
    state["0.weight"] = state["0.weight"] + 1.0
    with pytest.raises(StateMismatchError) as info:
        nb.from_torch_state_dict(model, state)
    message = str(info.value)
    assert "0.bias: missing (neuroback's 0.b)" in message
    assert "5.weight: expected shape (8, 64), got (64, 8)" in message
    assert "9.weight: not in this model" in message
    assert "3 problem(s)" in message
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_a_layer_without_a_pytorch_layout_is_named() -> None:
    class Scale(nb.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.add_parameter("s", np.ones(2))

        def forward(self, x: Any, *, train: bool, rng: Any = None) -> Any:
            return x, lambda dy, *, input_grad=True: dy

        def config(self) -> dict[str, Any]:
            return {}

    model = nb.Sequential(nb.layers.Dense(2, 2), Scale())
    with pytest.raises(StateMismatchError, match=r"Scale \(at 1\) has no PyTorch counterpart"):
        nb.to_torch_state_dict(model)


def test_a_float32_file_into_a_float64_model_says_to_cast(tmp_path: Path) -> None:
    model32 = nb.Sequential(nb.layers.Dense(2, 2, rng=0))
    nb.save_torch_state(model32, tmp_path / "f32.safetensors")
    model64 = nb.Sequential(nb.layers.Dense(2, 2, dtype="float64", rng=0))
    with pytest.raises(StateMismatchError, match="float64"):
        nb.load_torch_state(model64, tmp_path / "f32.safetensors")


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    model = nb.Sequential(nb.layers.Dense(2, 2))
    with pytest.raises(FileNotFoundError, match="No PyTorch state file"):
        nb.load_torch_state(model, tmp_path / "absent.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(StateMismatchError, match="is not a safetensors file"):
        nb.load_torch_state(model, tmp_path / "junk.safetensors")
