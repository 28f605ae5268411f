"""`python -m cutover.cli`."""

from cutover.cli import main

main()
