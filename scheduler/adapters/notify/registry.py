"""Apprise's plugin registry, its plugins loaded once per process."""

from __future__ import annotations

import functools
import warnings
from typing import Any, cast

from apprise import NotificationManager


@functools.cache
def registry() -> Any:
    """Apprise's plugin registry (a singleton whose methods carry no types), its plugins loaded."""
    manager = cast(Any, NotificationManager)()
    with warnings.catch_warnings():
        # Apprise's e-mail plugin imports the stdlib's deprecated imghdr (for PGPy) while the
        # plugins load: Apprise's business, not a warning for our users or our tests.
        warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
        manager.load_modules()
    return manager
