"""`python -m host_tools <command>`."""
import sys

from host_tools.cli.main import main

sys.exit(main(prog="python -m host_tools"))
