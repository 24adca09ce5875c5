"""ritual-scheduler: keeps a household's recurring rituals alive."""

__version__ = "0.1.0"
