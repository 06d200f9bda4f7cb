"""``python -m skportfolio``: the same command as ``skportfolio``."""

import sys

from skportfolio.cli import main

if __name__ == "__main__":
    sys.exit(main())
