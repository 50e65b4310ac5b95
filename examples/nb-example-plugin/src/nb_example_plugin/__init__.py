"""nb-example-plugin: a layer (Swish), an optimizer (Lion), a schedule (InverseSqrt) and a
callback (WeightNormHistory) for neuroback, shipped through its entry-point group.

Made with ``neuroback new-plugin nb-example-plugin`` and filled in; neuroback's own test
suite installs it with pip into a fresh environment and runs its whole life cycle.
"""

__version__ = "0.1.0"
