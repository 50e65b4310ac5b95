r"""nb-example-plugin's schedule: the inverse square root with linear warm-up (Vaswani et
al., 2017, "Attention Is All You Need"), scaled to reach 1 at the end of the warm-up:

.. math::

    s(t) = \min\!\left(\frac{t + 1}{w},\ \sqrt{\frac{w}{t + 1}}\right)

It climbs linearly to :math:`s(w - 1) = 1`, then decays as :math:`1/\sqrt{t}`.
"""

from __future__ import annotations

import math
from typing import Any

import neuroback as nb
from neuroback import checks


class InverseSqrt(nb.Schedule):
    """``min((t + 1) / warmup, sqrt(warmup / (t + 1)))``: warm up, then decay as 1/sqrt(t)."""

    def __init__(self, warmup: int = 10) -> None:
        self.warmup = checks.positive_int(warmup, "InverseSqrt warmup")

    def __call__(self, t: int) -> float:
        steps = t + 1
        return min(steps / self.warmup, math.sqrt(self.warmup / steps))

    def config(self) -> dict[str, Any]:
        return {"warmup": self.warmup}
