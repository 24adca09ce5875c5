"""The `ritual` command: parse, configure logging once, call the service, print.

One module per verb group; importing this package registers every command on ``main``.
"""

from scheduler.cli import couple, daemon, exchange, people, records, reports, rituals, setup, tokens
from scheduler.cli.app import App, main

__all__ = [
    "App",
    "couple",
    "daemon",
    "exchange",
    "main",
    "people",
    "records",
    "reports",
    "rituals",
    "setup",
    "tokens",
]
