"""`python -m bluegreen <command>`: the same tool as the `bluegreen` command, named as it was run."""

import sys

from bluegreen.cli import main

sys.exit(main(prog="python -m bluegreen"))
