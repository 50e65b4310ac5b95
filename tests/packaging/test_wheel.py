"""The wheel, installed the way a user installs it: built from this tree, installed in a
fresh virtual environment, and run from a folder outside the source tree."""

from __future__ import annotations

from packaging_support import ROOT, run


def test_the_wheel_trains_and_lists_plugins_outside_the_source_tree(wheel_env, tmp_path) -> None:
    python = str(wheel_env / "python")
    where = run([python, "-c", "import neuroback; print(neuroback.__file__)"], cwd=tmp_path)
    assert str(ROOT) not in where.stdout and "site-packages" in where.stdout
    train = run(
        [str(wheel_env / "neuroback"), "train", "--set", "trainer.epochs=1", "--quiet"],
        cwd=tmp_path,
    )
    assert train.stdout.strip().splitlines()[-1].startswith("test accuracy 0.")
    assert sorted(p.name for p in (tmp_path / "neuroback-run").iterdir()) == [
        "config.toml",
        "model.safetensors",
        "training.png",
    ]
    plugins = run([str(wheel_env / "neuroback"), "plugins"], cwd=tmp_path)
    assert "[built-in]" in plugins.stdout and "Dense" in plugins.stdout
    # the embedded default config is package data of the wheel
    shown = run([str(wheel_env / "neuroback"), "train", "--print-config"], cwd=tmp_path)
    assert 'dataset = "digits"' in shown.stdout
