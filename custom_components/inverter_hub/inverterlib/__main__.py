"""Run the command line: `python -m inverterlib identify|read|write FAMILY LINK ...`."""

import sys

from .cli import main

sys.exit(main())
