"""What several test modules share: a local push receiver, fakes, an in-process daemon, households.

Test modules import from here (or take the fixtures tests/conftest.py builds on it), never from
one another, so a test file can be moved, split or deleted without breaking another.
"""
