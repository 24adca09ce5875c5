"""The application: the use cases, and the only door to the domain and the store.

The CLI, the daemon, the pages and the API call these; the store, the clock and the
channels come in through the ports in ``ports.py``, so the use cases never name a
library that talks to the world.
"""
