"""Model files: neuroback.save / load / load_metadata, and Layer.state_dict / load_state_dict."""

from __future__ import annotations

import ast
import json
import pathlib
import struct
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load_file
from safetensors.numpy import save as save_tensors

import neuroback as nb
import neuroback.testing.strict
from neuroback.errors import (
    FileFormatError,
    MissingPluginError,
    SaveError,
    StateMismatchError,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _mlp(dtype: str = "float32") -> nb.Sequential:
    nb.seed(0)
    return nb.Sequential(
        nb.layers.Dense(3, 5, dtype=dtype),
        nb.layers.BatchNorm(5, dtype=dtype),
        nb.layers.ReLU(),
        nb.layers.Dense(5, 2, dtype=dtype),
    )


def _trained(model: nb.Layer) -> nb.Layer:
    """A few real steps, so the weights and BatchNorm's running statistics moved."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 2))
    nb.Trainer(model, "MSE", nb.optimizers.Adam(lr=0.05), seed=0).fit(x, y, epochs=2, batch_size=8)
    return model


def _header(path: pathlib.Path) -> dict[str, Any]:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(json.loads(data[8 : 8 + n])["__metadata__"]["neuroback"])


def _rewrite(path: pathlib.Path, edit: Any) -> None:
    """Rewrite the file with its neuroback header changed by ``edit`` (tensors kept)."""
    header = _header(path)
    edit(header)
    tensors = load_file(path)
    path.write_bytes(save_tensors(tensors, metadata={"neuroback": json.dumps(header)}))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_saved_model_loads_equal_in_outputs_weights_and_state(tmp_path, dtype) -> None:
    model = _trained(_mlp(dtype))
    path = nb.save(model, tmp_path / "model.safetensors")
    assert path == (tmp_path / "model.safetensors").resolve()
    loaded = nb.load(path)
    x = np.random.default_rng(2).normal(size=(6, 3)).astype(dtype)
    np.testing.assert_array_equal(loaded(x), model(x))
    saved, again = model.state_dict(), loaded.state_dict()
    assert list(saved) == list(again)
    assert "1.running_mean" in saved  # the non-trainable state travels too
    for name, value in saved.items():
        assert again[name].dtype == value.dtype
        np.testing.assert_array_equal(again[name], value)
    assert repr(loaded) == repr(model)


def test_a_shared_layer_is_stored_once_and_shared_again(tmp_path) -> None:
    nb.seed(0)
    d = nb.layers.Dense(3, 3)
    model = nb.Sequential(nb.layers.Residual(d), d, nb.layers.Dense(3, 1))
    path = nb.save(model, tmp_path / "shared.safetensors")
    assert sorted(load_file(path)) == [
        "model/0.block.W",
        "model/0.block.b",
        "model/2.W",
        "model/2.b",
    ]
    loaded = nb.load(path)
    assert list(loaded.named_parameters()) == list(model.named_parameters())
    first, second = loaded[0].block, loaded[1]
    assert first.W is second.W and first.b is second.b
    # and it trains as one parameter: one update moves both uses
    trainer = nb.Trainer(loaded, "MSE", nb.optimizers.SGD(lr=0.1))
    rng = np.random.default_rng(0)
    trainer.fit(rng.normal(size=(8, 3)), rng.normal(size=(8, 1)), epochs=1, batch_size=8)
    np.testing.assert_array_equal(first.W.value, second.W.value)
    assert not np.array_equal(first.W.value, model[1].W.value)


def test_metadata_round_trips_and_is_read_without_building_the_model(tmp_path) -> None:
    path = nb.save(_mlp(), tmp_path / "m.safetensors", metadata={"loss": 0.25, "data": ["a", 1]})
    assert nb.load_metadata(path) == {"loss": 0.25, "data": ["a", 1]}
    # a file whose component is not installed: metadata still readable, the model not
    _rewrite(path, lambda h: h["architecture"].update(type="nb-extras:Swish"))
    assert nb.load_metadata(path) == {"loss": 0.25, "data": ["a", 1]}
    with pytest.raises(MissingPluginError):
        nb.load(path)


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"x": np.float32(1.0)}, r"JSON values only .*float\(\)"),
        ({"x": float("nan")}, r"no NaN"),
        ({1: "a"}, r"string keys"),
        (["a"], r"JSON object"),
    ],
)
def test_metadata_that_json_cannot_hold_is_refused_before_writing(tmp_path, metadata, match):
    target = tmp_path / "m.safetensors"
    with pytest.raises(TypeError, match=match):
        nb.save(_mlp(), target, metadata=metadata)
    assert not target.exists()


def test_each_file_records_versions_and_provenance(tmp_path) -> None:
    header = _header(nb.save(_mlp(), tmp_path / "m.safetensors"))
    assert header["format"] == "neuroback" and header["format_version"] == 1
    assert header["kind"] == "model" and header["neuroback_version"] == nb.__version__
    assert header["architecture"]["type"] == "neuroback:Sequential"
    assert set(header["provenance"]) == {
        "neuroback:Sequential",
        "neuroback:Dense",
        "neuroback:BatchNorm",
        "neuroback:ReLU",
    }
    assert header["provenance"]["neuroback:Dense"] == {
        "distribution": "neuroback",
        "version": nb.__version__,
    }


def test_a_missing_plugin_names_the_distribution_and_its_version(tmp_path) -> None:
    path = nb.save(_mlp(), tmp_path / "m.safetensors")

    def use_swish(header: dict[str, Any]) -> None:
        header["architecture"]["config"]["layers"][2] = {"type": "nb-extras:Swish", "config": {}}
        header["provenance"]["nb-extras:Swish"] = {"distribution": "nb-extras", "version": "1.2"}

    _rewrite(path, use_swish)
    with pytest.raises(
        MissingPluginError, match=r"nb-extras:Swish: install it with: pip install nb-extras==1\.2"
    ):
        nb.load(path)
    # building a spec says the same, and so does the plain name, once a file named it
    with pytest.raises(MissingPluginError, match=r"pip install nb-extras"):
        nb.build("layers", {"type": "nb-extras:Swish"})
    with pytest.raises(
        AttributeError,  # a namespace's missing attribute, with the install hint
        match=r"names it 'nb-extras:Swish': install it with: pip install "
        r"nb-extras==1\.2",
    ):
        nb.layers.Swish


def test_a_run_time_component_says_to_register_it(tmp_path) -> None:
    path = nb.save(_mlp(), tmp_path / "m.safetensors")
    _rewrite(
        path,
        lambda h: h["architecture"]["config"]["layers"].__setitem__(
            2, {"type": "local:Swish", "config": {}}
        ),
    )
    with pytest.raises(MissingPluginError, match=r"local:Swish: it was registered at run time"):
        nb.load(path)


def test_a_missing_run_time_component_says_to_register_it_when_others_are_registered(
    tmp_path,
) -> None:
    """Once any component is registered at run time, 'local' is among the distributions;
    a missing local:X must still say to register it (not 'pip install local')."""

    class Halve(nb.Layer):
        def forward(self, x, *, train, rng=None):
            return x / 2, lambda dy, input_grad=True: dy / 2

    nb.register(Halve, name="HalveForMissingTest")
    path = nb.save(_mlp(), tmp_path / "m.safetensors")
    _rewrite(
        path,
        lambda h: h["architecture"]["config"]["layers"].__setitem__(
            2, {"type": "local:SwishNeverRegistered", "config": {}}
        ),
    )
    with pytest.raises(MissingPluginError) as caught:
        nb.load(path)
    assert "local:SwishNeverRegistered: it was registered at run time" in str(caught.value)
    assert "pip install local" not in str(caught.value)


def test_a_model_saved_on_one_backend_loads_on_another(tmp_path) -> None:
    model = _trained(_mlp()).to("strict")  # the strict backend stands in for a device
    path = nb.save(model, tmp_path / "m.safetensors")
    on_host = nb.load(path)
    assert on_host.backend.name == "numpy"
    back = nb.load(path, backend="strict")
    assert back.backend.name == "strict"
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(on_host.state_dict()[name], value)
        np.testing.assert_array_equal(back.state_dict()[name], value)
    with nb.use_backend("strict"):
        assert nb.load(path).backend.name == "strict"


def test_loading_leaves_the_seeded_stream_alone(tmp_path) -> None:
    path = nb.save(_mlp(), tmp_path / "m.safetensors")
    nb.seed(7)
    expected = nb.default_rng().normal(size=3)
    nb.seed(7)
    nb.load(path)
    np.testing.assert_array_equal(nb.default_rng().normal(size=3), expected)


def test_weights_that_do_not_fit_the_architecture_are_listed_in_one_error(tmp_path) -> None:
    path = nb.save(_mlp(), tmp_path / "m.safetensors")
    tensors = load_file(path)
    tensors["model/0.W"] = np.zeros((4, 5), dtype=np.float32)  # transposed-ish
    tensors["model/3.b"] = tensors["model/3.b"].astype(np.float64)
    del tensors["model/1.running_var"]
    tensors["model/9.W"] = np.zeros(2, dtype=np.float32)
    header = _header(path)
    path.write_bytes(save_tensors(tensors, metadata={"neuroback": json.dumps(header)}))
    with pytest.raises(FileFormatError) as info:
        nb.load(path)
    message = str(info.value)
    for expected in (
        "0.W: expected shape (3, 5) float32, got shape (4, 5) float32",
        "3.b: expected shape (2,) float32, got shape (2,) float64",
        "1.running_var: missing",
        "9.W: not in this model",
    ):
        assert expected in message, message


def test_load_state_dict_checks_everything_before_writing_anything() -> None:
    model = _mlp()
    before = model.state_dict()
    bad = dict(before)
    bad["0.W"] = np.zeros((5, 3), dtype=np.float32)
    bad["0.b"] = np.full(5, np.nan, dtype=np.float32)
    bad["3.W"] = before["3.W"] + 1  # a good entry: must not be written either
    del bad["1.gamma"]
    bad["extra"] = np.zeros(1)
    with pytest.raises(StateMismatchError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert "(4 problem(s))" in message
    for expected in (
        "0.W: expected shape (3, 5)",
        "0.b: holds 5 NaN",
        "1.gamma: missing",
        "extra: not in",
    ):
        assert expected in message, message
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_non_strict_loading_reports_what_it_left_out() -> None:
    model, source = _mlp(), _trained(_mlp())
    partial = {k: v for k, v in source.state_dict().items() if k.startswith("0.")}
    partial["head.W"] = np.zeros((2, 2), dtype=np.float32)
    result = model.load_state_dict(partial, strict=False)
    assert result.unexpected == ["head.W"]
    assert "3.W" in result.missing and "0.W" not in result.missing
    np.testing.assert_array_equal(model.state_dict()["0.W"], source.state_dict()["0.W"])
    with pytest.raises(StateMismatchError, match=r"mapping of dotted name"):
        model.load_state_dict([("0.W", 1)])


def test_state_dict_is_a_copy_on_the_host() -> None:
    model = _mlp().to("strict")
    state = model.state_dict()
    assert all(type(v) is np.ndarray for v in state.values())
    state["0.W"][...] = 0
    assert not np.array_equal(model.state_dict()["0.W"], state["0.W"])


def test_files_that_are_not_neurobacks_get_a_clear_error(tmp_path) -> None:
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    plain = tmp_path / "plain.safetensors"
    plain.write_bytes(save_tensors({"w": np.zeros(3)}))
    cases = [
        (empty, r"is empty"),
        (png, r"not a neuroback file"),
        (plain, r"safetensors file but not a neuroback file.*load_state_dict"),
    ]
    for path, match in cases:
        for read in (nb.load, nb.load_metadata):
            with pytest.raises(FileFormatError, match=match):
                read(path)
    with pytest.raises(FileNotFoundError, match="No such file"):
        nb.load(tmp_path / "missing.safetensors")
    with pytest.raises(FileFormatError, match="is a directory"):
        nb.load(tmp_path)


def test_a_newer_format_says_to_upgrade(tmp_path) -> None:
    path = nb.save(_mlp(), tmp_path / "m.safetensors")
    _rewrite(path, lambda h: h.update(format_version=99))
    with pytest.raises(
        FileFormatError,
        match=r"format version 99 .*reads versions up to 1.*pip install -U neuroback",
    ):
        nb.load(path)


def test_saving_replaces_the_old_file_whole_and_refuses_a_missing_directory(tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    nb.save(_mlp(), path, metadata={"v": 1})
    nb.save(_trained(_mlp()), path, metadata={"v": 2})
    assert nb.load_metadata(path) == {"v": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left
    with pytest.raises(SaveError, match="does not exist"):
        nb.save(_mlp(), tmp_path / "no-such-dir" / "m.safetensors")


def test_nothing_in_neuroback_pickles() -> None:
    """No pickle import, and numpy.load only ever with allow_pickle=False."""
    offenders = []
    for source in [*(ROOT / "neuroback").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]:
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(
                    n.split(".")[0] in {"pickle", "cloudpickle", "dill", "joblib"} for n in names
                ):
                    offenders.append(f"{source}:{node.lineno} imports a pickler")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "load"
                and getattr(node.func.value, "id", None) in {"np", "numpy"}
            ):
                safe = any(
                    k.arg == "allow_pickle"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value is False
                    for k in node.keywords
                )
                if not safe:
                    offenders.append(
                        f"{source}:{node.lineno} calls numpy.load without allow_pickle=False"
                    )
    assert not offenders, offenders


def test_a_component_the_installed_plugin_lacks_or_of_another_kind(tmp_path) -> None:
    path = nb.save(_mlp(), tmp_path / "m.safetensors")

    def use(spec: dict[str, Any], recorded: dict[str, Any]) -> None:
        def edit(header: dict[str, Any]) -> None:
            header["architecture"]["config"]["layers"][2] = spec
            header["provenance"].update(recorded)

        _rewrite(path, edit)

    use(
        {"type": "neuroback:Swish"},
        {"neuroback:Swish": {"distribution": "neuroback", "version": "9.1"}},
    )
    with pytest.raises(
        MissingPluginError,
        match=r"neuroback:Swish: the installed neuroback .* has no such component; install the "
        r"version that wrote the file: pip install neuroback==9\.1",
    ):
        nb.load(path)
    use({"type": "neuroback:Adam", "config": {}}, {})
    with pytest.raises(FileFormatError, match=r"architecture cannot be rebuilt .*No layer named"):
        nb.load(path)
