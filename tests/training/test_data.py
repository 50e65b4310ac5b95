"""Batching with a resumable position, and the datasets module."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import neuroback as nb
from neuroback.training import ArrayLoader


def _loader(seed: int = 0, n: int = 10, batch_size: int = 3, **kw: object) -> ArrayLoader:
    x = np.arange(n, dtype=np.float32)[:, None]
    return ArrayLoader(
        x,
        np.arange(n),
        batch_size=batch_size,
        shuffle=True,
        backend=nb.get_backend(),
        rng=np.random.default_rng(seed),
        **kw,  # type: ignore[arg-type]
    )


def _labels(batches: object) -> list[list[int]]:
    return [yb.tolist() for _, yb in batches]  # type: ignore[attr-defined]


def test_every_sample_once_per_epoch_in_a_new_order() -> None:
    loader = _loader()
    first, second = _labels(loader.epoch()), _labels(loader.epoch())
    assert [len(b) for b in first] == [3, 3, 3, 1] and len(loader) == 4
    flat = [[label for batch in epoch for label in batch] for epoch in (first, second)]
    assert sorted(flat[0]) == list(range(10)) == sorted(flat[1])
    assert first != second
    assert _labels(_loader(drop_last=True).epoch()) == first[:3]


def test_position_saved_mid_epoch_resumes_the_same_batches() -> None:
    reference = _loader(seed=5)
    ref_epochs = [_labels(reference.epoch()) for _ in range(3)]

    interrupted = _loader(seed=5)
    _labels(interrupted.epoch())  # epoch 0
    partial = interrupted.epoch()
    seen = [next(partial)[1].tolist(), next(partial)[1].tolist()]  # two batches of epoch 1
    state = interrupted.state_dict()
    assert state["epoch"] == 1 and state["offset"] == 6

    resumed = _loader(seed=999)  # a different generator: the state overrides it
    resumed.load_state_dict(state)
    rest_of_epoch = _labels(resumed.epoch())
    assert seen + rest_of_epoch == ref_epochs[1]
    assert _labels(resumed.epoch()) == ref_epochs[2]


@pytest.mark.parametrize("copy_limit", [0, None], ids=["gather-per-batch", "epoch-copy"])
def test_batches_are_the_orders_rows_whether_gathered_per_batch_or_per_epoch(
    monkeypatch: pytest.MonkeyPatch, copy_limit: int | None
) -> None:
    """Small shuffled data is put in epoch order once and batched as views; data above
    SHUFFLED_COPY_BYTES is gathered batch by batch. Either way batch k holds the rows
    order[k*b:(k+1)*b] of x and y, and a position saved mid-epoch resumes them."""
    from neuroback.training import data

    if copy_limit is not None:
        monkeypatch.setattr(data, "SHUFFLED_COPY_BYTES", copy_limit)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(11, 4)).astype(np.float32), rng.integers(0, 5, size=11)
    loader = ArrayLoader(x, y, batch_size=4, shuffle=True, backend=nb.get_backend(), rng=1)
    batches = iter(loader.epoch())
    first = next(batches)
    order = np.array(loader.state_dict()["order"])
    np.testing.assert_array_equal(first[0], x[order[:4]])
    np.testing.assert_array_equal(first[1], y[order[:4]])
    state = loader.state_dict()
    rest = list(batches)
    resumed = ArrayLoader(x, y, batch_size=4, shuffle=True, backend=nb.get_backend(), rng=7)
    resumed.load_state_dict(state)
    for (xb, yb), (xr, yr), start in zip(rest, resumed.epoch(), (4, 8), strict=True):
        np.testing.assert_array_equal(xb, x[order[start : start + 4]])
        np.testing.assert_array_equal(yb, y[order[start : start + 4]])
        np.testing.assert_array_equal(xr, xb)
        np.testing.assert_array_equal(yr, yb)
    x[:] = 0  # the loader's batches were copies (or views of a copy), never views of x
    assert np.any(first[0] != 0)


def test_restoring_onto_different_data_is_refused() -> None:
    loader = _loader()
    it = loader.epoch()
    next(it)
    with pytest.raises(ValueError, match="covers 10 samples but the data has 12"):
        _loader(n=12).load_state_dict(loader.state_dict())


# -- synthetic data ----------------------------------------------------------------------


@pytest.mark.parametrize("make", [nb.datasets.two_spirals, nb.datasets.two_moons])
def test_classification_sets_are_seeded_and_balanced(make: object) -> None:
    x1, y1 = make(101, seed=4)  # type: ignore[operator]
    x2, _ = make(101, seed=4)  # type: ignore[operator]
    np.testing.assert_array_equal(x1, x2)
    assert x1.shape == (101, 2) and x1.dtype == np.float32 and y1.dtype == np.int64
    assert abs(int(y1.sum()) - 50) <= 1
    assert not np.array_equal(make(101, seed=5)[0], x1)  # type: ignore[operator]
    with pytest.raises(ValueError, match="n must be an integer"):
        make(0)  # type: ignore[operator]


def test_xor_and_noisy_sine() -> None:
    _, y = nb.datasets.xor(8, noise=0.0)
    assert y.tolist() == [0, 1, 1, 0, 0, 1, 1, 0]
    xs, ys = nb.datasets.noisy_sine(500, noise=0.0)
    np.testing.assert_allclose(ys, np.sin(xs), atol=1e-6)
    with pytest.raises(ValueError, match="noise must be a non-negative"):
        nb.datasets.noisy_sine(10, noise=-1)


def test_stratified_split_keeps_class_proportions() -> None:
    x = np.arange(1000)[:, None]
    y = (np.arange(1000) < 100).astype(np.int64)  # 10% positives
    (xt, yt), (xv, yv), (xs, ys) = nb.datasets.train_val_test_split(
        x, y, val=0.1, test=0.2, seed=0, stratify=True
    )
    assert (len(yt), len(yv), len(ys)) == (700, 100, 200)
    assert yt.mean() == pytest.approx(0.1) and ys.mean() == pytest.approx(0.1)
    assert len(set(xt.ravel()) | set(xv.ravel()) | set(xs.ravel())) == 1000
    with pytest.raises(ValueError, match="leaves no training data"):
        nb.datasets.train_val_test_split(x, y, val=0.5, test=0.5)


# -- files on disk ------------------------------------------------------------------------


def test_npz_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, x=np.ones((3, 2)), y=np.arange(3))
    x, y = nb.datasets.load_npz(path)
    assert x.shape == (3, 2) and y.tolist() == [0, 1, 2]
    with pytest.raises(KeyError, match=r"no array named 'labels'.*\['x', 'y'\]"):
        nb.datasets.load_npz(path, y_key="labels")
    with pytest.raises(FileNotFoundError, match="No such data file"):
        nb.datasets.load_npz(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        nb.datasets.load_npz(tmp_path / "bad.npz")


def test_csv_with_and_without_header(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n5,6,1\n")
    x, y = nb.datasets.load_csv(path)
    assert x.tolist() == [[1, 2], [3, 4], [5, 6]] and y.tolist() == [0, 1, 1]
    assert y.dtype == np.int64
    x2, y2 = nb.datasets.load_csv(path, target="a")
    assert x2.tolist() == [[2, 0], [4, 1], [6, 1]] and y2.tolist() == [1, 3, 5]
    plain = tmp_path / "plain.csv"
    plain.write_text("0.5,1.5\n2.5,3.5\n")
    x3, y3 = nb.datasets.load_csv(plain)
    assert x3.tolist() == [[0.5], [2.5]] and y3.tolist() == [1.5, 3.5]
    with pytest.raises(KeyError, match="no column named 'zzz'"):
        nb.datasets.load_csv(path, target="zzz")
    path.write_text("a,b\n1,x\n")
    with pytest.raises(ValueError, match="not a numeric CSV"):
        nb.datasets.load_csv(path)


def _write_idx(path: Path, array: np.ndarray, code: int, *, gz: bool = False) -> None:
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    payload = header + big_endian.tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)


def test_idx_files_like_mnist(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "images-idx3-ubyte", images, 0x08)
    np.testing.assert_array_equal(nb.datasets.load_idx(tmp_path / "images-idx3-ubyte"), images)
    floats = np.linspace(-1, 1, 6, dtype=np.float32)
    _write_idx(tmp_path / "floats.gz", floats, 0x0D, gz=True)
    loaded = nb.datasets.load_idx(tmp_path / "floats.gz")
    np.testing.assert_array_equal(loaded, floats)
    assert loaded.dtype.isnative
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]))
    with pytest.raises(ValueError, match=r"declares shape \(9,\).*truncated or corrupt"):
        nb.datasets.load_idx(tmp_path / "short")
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="is not an IDX file"):
        nb.datasets.load_idx(tmp_path / "junk")


def test_a_refused_state_leaves_the_loader_as_it_was() -> None:
    loader = _loader(seed=2)
    expected = _labels(_loader(seed=2).epoch())
    bad = {**loader.state_dict(), "order": list(range(12)), "epoch": 7}
    with pytest.raises(ValueError, match="covers 12 samples"):
        loader.load_state_dict(bad)
    assert loader.state_dict()["epoch"] == 0
    assert _labels(loader.epoch()) == expected
