"""nb-example-plugin's hooks: neuroback calls them when it loads the plugin.

The pyproject's entry point (group ``neuroback``) names this module; each hook hands one
kind of component to ``register``.
"""

import neuroback

from .callbacks import WeightNormHistory
from .layers import Swish
from .optimizers import Lion
from .schedules import InverseSqrt

# the plugin API this module is written against (see "Compatibility" in neuroback's docs)
NEUROBACK_PLUGIN_API = "1.0"


@neuroback.hookimpl
def neuroback_register_layers(register):
    register(Swish)  # neuroback.layers.Swish, or "nb-example-plugin:Swish" in configs


@neuroback.hookimpl
def neuroback_register_optimizers(register):
    register(Lion)


@neuroback.hookimpl
def neuroback_register_schedules(register):
    register(InverseSqrt)


@neuroback.hookimpl
def neuroback_register_callbacks(register):
    register(WeightNormHistory)
