"""``python -m diversa.cli``."""

import sys

from diversa.cli import main

sys.exit(main())
