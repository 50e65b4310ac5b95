"""Schedules are a registered kind: a namespace, the standard spec, plugins, the kit's check."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import ComponentNotFoundError, ConfigError, PluginError
from neuroback.plugin_system import KINDS, PluginRegistry, manager
from neuroback.testing import ConformanceError
from neuroback.testing._schedule_checks import check_schedule

BUILTIN_SCHEDULES = ["Constant", "Cosine", "Exponential", "LinearWarmup", "StepDecay"]


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> PluginRegistry:
    """A private process-wide registry (built-ins only) for tests that register things."""
    registry = PluginRegistry(env={"NEUROBACK_DISABLE_PLUGIN_AUTOLOAD": "1"})
    monkeypatch.setattr(manager, "_default", registry)
    return registry


def _fit(scheduler: nb.Callback, epochs: int = 3, lr: float = 0.1) -> nb.Trainer:
    x, y = nb.datasets.noisy_sine(32, seed=0)
    nb.seed(0)
    trainer = nb.Trainer(
        nb.Sequential(nb.layers.Dense(1, 4), nb.layers.Tanh(), nb.layers.Dense(4, 1)),
        "MSE",
        nb.optimizers.SGD(lr=lr),
        callbacks=[scheduler],
        seed=0,
    )
    trainer.fit(x, y, epochs=epochs, batch_size=16)
    return trainer


# -- the kind and its namespace -------------------------------------------------------------


def test_schedules_is_a_kind_with_its_hook():
    kind = KINDS["schedules"]
    assert (kind.singular, kind.hook) == ("schedule", "neuroback_register_schedules")
    assert kind.base_class() is nb.Schedule
    from neuroback.plugin_system import hookspecs

    assert callable(hookspecs.neuroback_register_schedules)


def test_namespace_lists_and_resolves_the_builtins():
    assert set(BUILTIN_SCHEDULES) <= set(nb.schedules.names())
    assert set(BUILTIN_SCHEDULES) <= set(dir(nb.schedules))
    for name in BUILTIN_SCHEDULES:
        cls = getattr(nb.schedules, name)
        assert issubclass(cls, nb.Schedule)
        assert nb.schedules.get(f"neuroback:{name}") is cls
        assert nb.get_registry().qualified_name(cls) == f"neuroback:{name}"
    with pytest.raises(AttributeError, match=r"No schedule named 'Cosin'.*Did you mean 'Cosine'"):
        nb.schedules.Cosin


def test_build_from_the_standard_spec():
    schedule = nb.build("schedules", {"type": "Cosine", "config": {"total": 4}})
    assert isinstance(schedule, nb.schedules.Cosine)
    assert [round(schedule(t), 3) for t in range(6)] == [1.0, 0.854, 0.5, 0.146, 0.0, 0.0]
    assert nb.build("schedules", "Constant")(7) == 1.0
    assert nb.build("schedules", {"type": "neuroback:Exponential", "config": {"gamma": 0.5}})(
        3
    ) == pytest.approx(0.125)


@pytest.mark.parametrize("name", BUILTIN_SCHEDULES)
def test_to_spec_round_trip_through_json(name):
    schedule = getattr(nb.schedules, name).example()
    spec = nb.to_spec(schedule)
    assert spec["type"] == f"neuroback:{name}"
    rebuilt = nb.build("schedules", json.loads(json.dumps(spec)))
    assert type(rebuilt) is type(schedule)
    assert nb.to_spec(rebuilt) == spec
    assert [rebuilt(t) for t in range(30)] == [schedule(t) for t in range(30)]


def test_linear_warmup_after_is_a_nested_spec():
    warm = nb.build(
        "schedules",
        {
            "type": "LinearWarmup",
            "config": {
                "warmup": 2,
                "after": {"type": "StepDecay", "config": {"step_size": 1, "gamma": 0.5}},
            },
        },
    )
    assert [warm(t) for t in range(5)] == [0.5, 1.0, 1.0, 0.5, 0.25]
    assert warm.config() == {
        "warmup": 2,
        "after": {"type": "neuroback:StepDecay", "config": {"step_size": 1, "gamma": 0.5}},
    }
    assert nb.schedules.LinearWarmup(3).config()["after"] == {
        "type": "neuroback:Constant",
        "config": {},
    }
    assert repr(warm) == "LinearWarmup(warmup=2, after=StepDecay(step_size=1, gamma=0.5))"


def test_the_old_name_form_is_refused_with_the_new_form():
    old = {"name": "Cosine", "config": {"total": 10}}
    with pytest.raises(ConfigError, match=r"old form.*\"type\".*\{'type': 'Cosine', 'config'"):
        nb.callbacks.LearningRateScheduler(old)
    with pytest.raises(ConfigError, match=r"LinearWarmup after.*old form"):
        nb.schedules.LinearWarmup(2, after={"name": "Constant"})
    with pytest.raises(ConfigError, match="'type'"):
        nb.build("schedules", old)


def test_every_schedule_declares_an_example():
    for comp in nb.get_registry().components("schedules"):
        example = comp.obj.example()
        assert isinstance(example, comp.obj), comp.qualified_name


def test_a_schedule_without_default_arguments_says_to_declare_an_example():
    class NeedsArgs(nb.Schedule):
        def __init__(self, total):
            self.total = total

        def __call__(self, t):
            return 1.0

    with pytest.raises(NotImplementedError, match=r"NeedsArgs declares no example\(\)"):
        NeedsArgs.example()


def test_schedule_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        nb.Schedule()


# -- a third-party schedule ------------------------------------------------------------------


class Triangle(nb.Schedule):
    """s(t) rises from 0 to 1 over ``half`` units, then falls back to 0, and repeats."""

    def __init__(self, half: int = 2) -> None:
        self.half = int(half)

    def __call__(self, t: int) -> float:
        phase = t % (2 * self.half)
        return (phase if phase <= self.half else 2 * self.half - phase) / self.half

    def config(self) -> dict[str, Any]:
        return {"half": self.half}


class TrianglePlugin:
    @nb.hookimpl
    def neuroback_register_schedules(self, register):
        register(Triangle)


def test_a_plugin_ships_a_schedule_through_the_hook():
    registry = PluginRegistry(env={"NEUROBACK_DISABLE_PLUGIN_AUTOLOAD": "1"})
    info = registry.load_plugin(TrianglePlugin(), distribution="my-schedules", version="0.1")
    assert [c.qualified_name for c in info.components] == ["my-schedules:Triangle"]
    assert registry.get("schedules", "Triangle").obj is Triangle
    assert registry.get("schedules", "my_schedules:Triangle").obj is Triangle
    assert registry.get("schedules", "Cosine").distribution == "neuroback"


def test_a_plugin_schedule_drives_the_scheduler_and_is_written_to_configs(fresh_registry):
    nb.load_plugin(TrianglePlugin(), distribution="my-schedules")
    assert nb.schedules.Triangle is Triangle
    seen: list[float] = []

    class Watch(nb.Callback):
        def on_epoch_begin(self, trainer, epoch):
            seen.append(trainer.optimizer.lr)

    scheduler = nb.callbacks.LearningRateScheduler({"type": "Triangle", "config": {"half": 2}})
    x, y = nb.datasets.noisy_sine(32, seed=0)
    trainer = nb.Trainer(
        nb.Sequential(nb.layers.Dense(1, 1)),
        "MSE",
        nb.optimizers.SGD(lr=0.1),
        callbacks=[scheduler, Watch()],
        seed=0,
    )
    trainer.fit(x, y, epochs=5, batch_size=16)
    np.testing.assert_allclose(seen, [0.0, 0.05, 0.1, 0.05, 0.0])
    spec = nb.to_spec(scheduler)
    assert spec["config"]["schedule"] == {"type": "my-schedules:Triangle", "config": {"half": 2}}
    rebuilt = nb.build("callbacks", json.loads(json.dumps(spec)))
    assert isinstance(rebuilt.schedule, Triangle)
    check_schedule(Triangle(3))


def test_a_plugin_registering_a_non_schedule_is_rejected():
    class Wrong:
        @nb.hookimpl
        def neuroback_register_schedules(self, register):
            register(lambda t: 1.0, name="flat")

    registry = PluginRegistry(env={"NEUROBACK_DISABLE_PLUGIN_AUTOLOAD": "1"})
    with pytest.raises(PluginError, match=r"as a schedule, but it is not a subclass of .*Schedule"):
        registry.load_plugin(Wrong(), distribution="my-wrong")
    assert "flat" not in registry.names("schedules")


def test_register_files_a_schedule_class_under_schedules(fresh_registry):
    nb.register(Triangle)
    assert nb.schedules.Triangle is Triangle
    assert nb.to_spec(Triangle(4)) == {"type": "local:Triangle", "config": {"half": 4}}


# -- LearningRateScheduler: what it accepts and what a schedule may return -----------------


@pytest.mark.parametrize(
    "schedule",
    [
        nb.schedules.StepDecay(1, gamma=0.5),
        "neuroback:Constant",
        {"type": "StepDecay", "config": {"step_size": 1, "gamma": 0.5}},
        lambda t: 0.5**t,
    ],
    ids=["instance", "name", "spec", "callable"],
)
def test_scheduler_accepts_an_instance_a_name_a_spec_or_a_callable(schedule):
    scheduler = nb.callbacks.LearningRateScheduler(schedule)
    trainer = _fit(scheduler, epochs=3, lr=0.1)
    expected = 0.1 if schedule == "neuroback:Constant" else 0.1 * 0.25
    assert trainer.optimizer.lr == pytest.approx(expected)
    if callable(schedule) and not isinstance(schedule, nb.Schedule):
        with pytest.raises(ConfigError, match="plain callable"):
            scheduler.config()
    else:
        assert nb.to_spec(scheduler)["config"]["schedule"]["type"].startswith("neuroback:")


def test_scheduler_with_an_unknown_name_lists_the_schedules():
    with pytest.raises(ComponentNotFoundError, match=r"No schedule named 'Cosinus'.*Cosine"):
        nb.callbacks.LearningRateScheduler("Cosinus")


def bad_string(t):
    return "x"


def bad_none(t):
    return None


def bad_nan(t):
    return float("nan") if t == 1 else 1.0


def bad_negative(t):
    return -1 if t == 1 else 1.0


def bad_inf(t):
    return math.inf if t == 1 else 1.0


def bad_bool(t):
    return True


def bad_array(t):
    return np.array([0.5])


@pytest.mark.parametrize(
    ("schedule", "t", "shown"),
    [
        (bad_string, 0, "'x'"),
        (bad_none, 0, "None"),
        (bad_nan, 1, "nan"),
        (bad_negative, 1, "-1"),
        (bad_inf, 1, "inf"),
        (bad_bool, 0, "True"),
        (bad_array, 0, r"array\(\[0.5\]\)"),
    ],
    ids=["string", "None", "nan", "negative", "inf", "bool", "array"],
)
def test_a_bad_factor_is_a_clear_error_naming_the_schedule_t_and_value(schedule, t, shown):
    scheduler = nb.callbacks.LearningRateScheduler(schedule)
    with pytest.raises(
        ConfigError, match=rf"schedule {schedule.__name__} returned {shown} at t={t} \("
    ) as excinfo:
        _fit(scheduler, epochs=3, lr=0.1)
    assert "real number" in str(excinfo.value) or ">= 0" in str(excinfo.value)


def test_a_bad_factor_leaves_the_learning_rate_alone():
    class Broken(nb.Schedule):
        def __call__(self, t):
            return None if t == 2 else 0.5

    scheduler = nb.callbacks.LearningRateScheduler(Broken())
    x, y = nb.datasets.noisy_sine(32, seed=0)
    trainer = nb.Trainer(
        nb.Sequential(nb.layers.Dense(1, 1)),
        "MSE",
        nb.optimizers.SGD(lr=0.1),
        callbacks=[scheduler],
        seed=0,
    )
    with pytest.raises(ConfigError, match=r"schedule Broken\(\) returned None at t=2"):
        trainer.fit(x, y, epochs=4, batch_size=16)
    assert trainer.optimizer.lr == pytest.approx(0.05)  # epoch 1's rate, untouched


# -- the conformance check -------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTIN_SCHEDULES)
def test_check_schedule_passes_for_the_builtins(name):
    cls = getattr(nb.schedules, name)
    check_schedule(cls)  # its example()
    check_schedule(cls.example(), steps=500)


class _Negative(nb.Schedule):
    def __call__(self, t):
        return 1.0 - 0.1 * t  # negative from t = 11


class _Text(nb.Schedule):
    def __call__(self, t):
        return "1.0"


class _Stateful(nb.Schedule):
    def __init__(self):
        self.calls = 0

    def __call__(self, t):
        self.calls += 1
        return 1.0 / self.calls


class _ForgetsItsArgument(nb.Schedule):
    def __init__(self, gamma=0.5):
        self.gamma = gamma

    def __call__(self, t):
        return self.gamma**t

    def config(self):
        return {}  # gamma is lost: the rebuilt schedule uses the default


class _NullConfig(nb.Schedule):
    def __init__(self, floor=None):
        self.floor = floor

    def __call__(self, t):
        return 1.0 if self.floor is None else max(self.floor, 0.9**t)

    def config(self):
        return {"floor": self.floor}


class _WrongExample(nb.Schedule):
    def __call__(self, t):
        return 1.0

    @classmethod
    def example(cls):
        return nb.schedules.Constant()


@pytest.mark.parametrize(
    ("broken", "rule"),
    [
        (_Negative(), r"finite and >= 0.*s\(11\)"),
        (_Text(), r"a factor is a real number.*'1.0' \(str\)"),
        (_Stateful(), "the same t gives the same factor"),
        (_ForgetsItsArgument(gamma=0.9), "rebuilds an equal schedule"),
        (_NullConfig(), r"JSON and TOML values only.*None"),
        (_WrongExample, r"example\(\) returns an instance of its class"),
    ],
    ids=["negative", "text", "stateful", "forgets-argument", "null-config", "wrong-example"],
)
def test_check_schedule_catches_broken_schedules(fresh_registry, broken, rule):
    for cls in (_Negative, _Text, _Stateful, _ForgetsItsArgument, _NullConfig, _WrongExample):
        nb.register(cls)
    with pytest.raises(ConformanceError, match=rule):
        check_schedule(broken)


def test_check_schedule_needs_the_class_registered():
    with pytest.raises(ConfigError, match="not a registered component"):
        check_schedule(Triangle(2))


def test_check_schedule_rejects_what_is_not_a_schedule():
    with pytest.raises(TypeError, match="Schedule subclass or instance"):
        check_schedule(lambda t: 1.0)
    with pytest.raises(TypeError, match="Schedule subclass or instance"):
        check_schedule(nb.layers.Dense)
