"""Adapters: each wraps one library that talks to the world (SQL, Apprise, HTTP, timers, systemd)."""
