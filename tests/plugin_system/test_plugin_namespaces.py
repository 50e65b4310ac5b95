"""The module namespaces (``neuroback.layers`` ...) in a fresh interpreter, as a user sees them."""

from __future__ import annotations

NAMESPACE_PROBE = """
import json

import neuroback
import neuroback.layers

registry = neuroback.get_registry()
before = registry.loaded
swish = neuroback.layers.Swish  # the first lookup scans the entry points

import nb_demo_good

print(json.dumps({
    "loaded_before_lookup": before,
    "loaded_after_lookup": registry.loaded,
    "swish_is_plugin_class": swish is nb_demo_good.Swish,
    "swish_module": swish.__module__,
    "in_dir": "Swish" in dir(neuroback.layers),
    "alias": neuroback.layers.SiLU is nb_demo_good.Swish,
    "qualified": neuroback.layers.get("nb-demo-good:Swish") is nb_demo_good.Swish,
    "normalized": neuroback.layers.get("nb_demo_good:Swish") is nb_demo_good.Swish,
    "plain_get": neuroback.layers.get("Swish") is nb_demo_good.Swish,
    "loss": neuroback.losses.MAE is nb_demo_good.MAE,
    "optimizer": neuroback.optimizers.SignSGD is nb_demo_good.SignSGD,
    "transform": neuroback.transforms.ScaleGrads is nb_demo_good.ScaleGrads,
    "callback": neuroback.callbacks.CountEpochs is nb_demo_good.CountEpochs,
    "metric": neuroback.metrics.mean_abs_error is nb_demo_good.mean_abs_error,
    "dir_losses": "MAE" in dir(neuroback.losses),
    "dir_metrics": "mean_abs_error" in dir(neuroback.metrics),
    "dense_module": neuroback.layers.Dense.__module__,
    "hasattr_nope": hasattr(neuroback.layers, "Nope"),
    "qualified_name": registry.qualified_name(swish),
    "spec_type": neuroback.to_spec(swish(beta=0.5))["type"],
    "layer_names": neuroback.layers.names(),
}))
"""


def test_plugin_components_are_module_attributes(plugin_site, run_python):
    out = run_python(
        NAMESPACE_PROBE, site=plugin_site, env={"NEUROBACK_LOAD_PLUGINS": "nb-demo-good"}
    )
    assert out.pop("loaded_before_lookup") is False
    assert out.pop("swish_module") == "nb_demo_good"
    assert out.pop("dense_module").startswith("neuroback_builtins")
    assert out.pop("hasattr_nope") is False
    assert out.pop("qualified_name") == "nb-demo-good:Swish"
    assert out.pop("spec_type") == "nb-demo-good:Swish"
    assert {"Dense", "ReLU", "Sigmoid", "Sequential", "Swish", "SiLU"} <= set(
        out.pop("layer_names")
    )
    assert out == dict.fromkeys(out, True), [k for k, v in out.items() if v is not True]


def test_without_the_plugin_on_the_path_its_names_are_missing(run_python):
    out = run_python(
        """
        import json
        import neuroback
        print(json.dumps({
            "swish": hasattr(neuroback.layers, "Swish"),
            "dense": hasattr(neuroback.layers, "Dense"),
            "plugins": [p.distribution for p in neuroback.get_registry().plugins()],
        }))
        """
    )
    assert out["swish"] is False
    assert out["dense"] is True
    assert "neuroback" in out["plugins"]
    assert not any(p.startswith("nb-demo-") for p in out["plugins"])


def test_ambiguous_attribute_names_both_distributions(plugin_site, run_python):
    out = run_python(
        """
        import json
        import neuroback
        from neuroback.errors import AmbiguousComponentError
        try:
            neuroback.layers.Swish
        except AmbiguousComponentError as exc:
            message = str(exc)
        else:
            message = None
        print(json.dumps({
            "message": message,
            "good": neuroback.layers.get("nb-demo-good:Swish").__module__,
            "other": neuroback.layers.get("nb-demo-other:Swish").__module__,
            "mish": neuroback.layers.Mish.__module__,
        }))
        """,
        site=plugin_site,
        env={"NEUROBACK_LOAD_PLUGINS": "nb-demo-good,nb-demo-other"},
    )
    assert out["message"] is not None
    assert "nb-demo-good" in out["message"]
    assert "nb-demo-other" in out["message"]
    assert out["good"] == "nb_demo_good"
    assert out["other"] == "nb_demo_other.layers"
    assert out["mish"] == "nb_demo_other.layers"
