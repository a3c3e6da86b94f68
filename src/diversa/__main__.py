"""``python -m diversa``: the same command line as the ``diversa`` script."""

import sys

from diversa.cli import main

sys.exit(main())
