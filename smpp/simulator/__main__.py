"""``python -m smpp.simulator``: see ``smpp.simulator.cli``."""

import sys

from smpp.simulator.cli import main

sys.exit(main())
