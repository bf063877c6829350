"""``python -m memori``: the command line."""

import sys

from memori.cli import main

sys.exit(main())
