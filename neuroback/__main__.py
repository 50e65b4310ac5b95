"""``python -m neuroback``: the ``neuroback`` command."""

import sys

from .cli import main

sys.exit(main())
