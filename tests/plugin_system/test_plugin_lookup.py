"""Name resolution: plain and qualified names, ambiguity, and unknown names."""

from __future__ import annotations

import pytest

import neuroback
from neuroback.errors import AmbiguousComponentError, ComponentNotFoundError, ConfigError


@pytest.fixture
def both(make_registry):
    """A registry with nb-demo-good and nb-demo-other: both register a layer 'Swish'."""
    return make_registry(NEUROBACK_LOAD_PLUGINS="nb-demo-good,nb-demo-other")


def test_ambiguous_plain_name_names_both_distributions(both):
    with pytest.raises(AmbiguousComponentError) as excinfo:
        both.get("layers", "Swish")
    message = str(excinfo.value)
    assert "'Swish'" in message
    assert "nb-demo-good" in message
    assert "nb-demo-other" in message
    # ... and says how to fix it.
    assert "'nb-demo-good:Swish'" in message
    assert "'nb-demo-other:Swish'" in message
    assert isinstance(excinfo.value, LookupError)


def test_qualified_names_resolve_when_the_plain_name_is_ambiguous(both):
    import nb_demo_good
    import nb_demo_other.layers

    assert both.get("layers", "nb-demo-good:Swish").obj is nb_demo_good.Swish
    assert both.get("layers", "nb-demo-other:Swish").obj is nb_demo_other.layers.Swish
    assert nb_demo_good.Swish is not nb_demo_other.layers.Swish


def test_other_names_keep_working_next_to_an_ambiguous_one(both):
    import nb_demo_good
    import nb_demo_other.layers

    assert both.get("layers", "Mish").obj is nb_demo_other.layers.Mish
    assert both.get("layers", "SiLU").obj is nb_demo_good.Swish
    assert both.get("losses", "MAE").obj is nb_demo_good.MAE
    assert both.get("layers", "Dense").distribution == "neuroback"
    assert both.names("layers").count("Swish") == 1
    assert both.plugins()  # listing is not broken by the clash either


@pytest.mark.parametrize(
    "name",
    ["nb-demo-good:Swish", "nb_demo_good:Swish", "NB-Demo-Good:Swish", "nb.demo_good:Swish"],
)
def test_qualified_distribution_is_normalized(both, name):
    import nb_demo_good

    assert both.get("layers", name).obj is nb_demo_good.Swish


def test_qualified_name_of_builtins(both):
    dense = both.get("layers", "neuroback:Dense")
    assert dense is both.get("layers", "Dense")
    assert dense.qualified_name == "neuroback:Dense"
    assert both.qualified_name(dense.obj) == "neuroback:Dense"


def test_names_are_case_sensitive_and_kinds_are_separate(both):
    with pytest.raises(ComponentNotFoundError):
        both.get("layers", "swish")
    with pytest.raises(ComponentNotFoundError):
        both.get("losses", "Swish")  # a layer, not a loss
    with pytest.raises(ComponentNotFoundError):
        both.get("layers", "nb-demo-good:MAE")


def test_qualified_name_records_the_canonical_name(both):
    import nb_demo_good

    # Swish is also registered as "SiLU"; configs record the class's own name.
    assert both.qualified_name(nb_demo_good.Swish) == "nb-demo-good:Swish"
    assert both.qualified_name(nb_demo_good.mean_abs_error) == "nb-demo-good:mean_abs_error"
    with pytest.raises(ConfigError, match=r"not a registered component"):
        both.qualified_name(type("Unregistered", (), {}))


@pytest.fixture
def builtins_only(make_registry):
    return make_registry(NEUROBACK_DISABLE_PLUGIN_AUTOLOAD="1")


@pytest.mark.parametrize("typo", ["Dnese", "dense", "DENSE", "Dens"])
def test_unknown_name_suggests_the_closest_match(builtins_only, typo):
    with pytest.raises(ComponentNotFoundError, match=r"Did you mean 'Dense'\?") as excinfo:
        builtins_only.get("layers", typo)
    message = str(excinfo.value)
    assert f"No layer named {typo!r}" in message
    available = message.split("Available layers:", 1)[1]
    for name in ("Dense", "ReLU", "Sequential", "Sigmoid"):
        assert name in available
    assert isinstance(excinfo.value, LookupError)


def test_unknown_name_without_a_close_match_lists_what_is_available(builtins_only):
    with pytest.raises(ComponentNotFoundError, match=r"Available losses: .*MSE") as excinfo:
        builtins_only.get("losses", "Xyzzy")
    assert "Did you mean" not in str(excinfo.value)
    assert "pip-installed" in str(excinfo.value)  # how a third-party one would get here


def test_unknown_qualified_name_suggests_a_qualified_name(builtins_only):
    with pytest.raises(ComponentNotFoundError, match=r"Did you mean 'neuroback:Dense'\?"):
        builtins_only.get("layers", "neuroback:Dnese")
    with pytest.raises(ComponentNotFoundError, match=r"neuroback:Dense"):
        builtins_only.get("layers", "nb-demo-good:Dense")  # a distribution that is not loaded


def test_unknown_kind_and_non_string_names(builtins_only):
    with pytest.raises(ConfigError, match=r"Unknown component kind 'layer'.*'layers'"):
        builtins_only.get("layer", "Dense")
    with pytest.raises(TypeError, match=r"must be a string"):
        builtins_only.get("layers", 3)


def test_namespace_attribute_semantics(builtins_only, use_global_registry):
    """``neuroback.layers`` behaves like a module: missing names are AttributeErrors."""
    use_global_registry(builtins_only)
    assert hasattr(neuroback.layers, "Dense")
    assert not hasattr(neuroback.layers, "Nope")
    assert not hasattr(neuroback.losses, "Dense")
    assert getattr(neuroback.layers, "Nope", None) is None
    with pytest.raises(AttributeError, match=r"Did you mean 'Dense'\?"):
        neuroback.layers.Dnese
    with pytest.raises(ComponentNotFoundError):  # also a ComponentNotFoundError
        neuroback.layers.Dnese
    with pytest.raises(AttributeError):
        neuroback.layers.__wrapped__  # dunder probes never trigger a lookup error message
    assert neuroback.layers.Dense is builtins_only.get("layers", "Dense").obj
    assert neuroback.layers.get("neuroback:Dense") is neuroback.layers.Dense
    assert "Dense" in dir(neuroback.layers)
    assert "get" in dir(neuroback.layers)
    assert neuroback.optimizers.names() == builtins_only.names("optimizers")
