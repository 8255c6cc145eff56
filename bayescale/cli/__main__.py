"""``python -m bayescale.cli ...`` runs the ``bayescale`` command."""

import sys

from bayescale.cli import console

sys.exit(console())
