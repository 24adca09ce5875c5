"""`python -m scheduler` is the `ritual` command."""

from scheduler.cli import main

main()
