"""``python -m neuroback.cli``: the ``neuroback`` command."""

import sys

from . import main

sys.exit(main())
