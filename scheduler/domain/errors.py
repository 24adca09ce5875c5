"""One error root for everything a user can get wrong or the world can break.

Every message names the thing at fault (file and line, option, ritual), fits
on one line and never contains a secret: the CLI prints ``str(error)`` as is.
"""

from __future__ import annotations

from scheduler.domain.cadence import quote


class RitualError(Exception):
    """Root of every error ritual-scheduler raises on purpose."""

    exit_code = 1


class UsageError(RitualError):
    """A command-line value is malformed (bad date, unknown option value)."""

    exit_code = 2


class DefinitionError(RitualError):
    """A ritual definition breaks a rule; `key` names the field at fault.

    Raised by the pure parser, which does not know where the table came from;
    the caller adds the place (file and line, or the CLI option).
    """

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


class ScheduleError(DefinitionError):
    """A ritual's ``cron`` or ``rrule`` cannot be planned: it never fires, fires first more than a
    year after its start, or takes a form whose walk has no bound. ``key`` is "cron" or "rrule".

    New rituals are refused with it; one stored before a rule was added is skipped and reported
    by whoever plans it, and the other rituals are planned as usual.
    """


class RitualFileError(RitualError):
    """The ritual file is broken: ``rituals.toml:14: ritual 'x': message``."""

    def __init__(self, path: str, line: int | None, ritual: str | None, message: str) -> None:
        where = f"{path}:{line}" if line else path
        subject = f"ritual '{ritual}': " if ritual else ""
        super().__init__(f"{where}: {subject}{message}")
        self.path = path
        self.line = line
        self.ritual = ritual
        self.message = message


class SettingsError(RitualError):
    """A setting is invalid; the message names the option and where it was set."""


class NotFoundError(RitualError):
    """What a command or request names does not exist (the API answers 404)."""


class UnknownRitualError(NotFoundError):
    """No ritual of that name is in the store."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no ritual named {quote(name)} (see `ritual list`)")
        self.name = name


class RetiredRitualError(UnknownRitualError):
    """The ritual was retired: it takes nothing new, and its history is kept to read."""

    def __init__(self, name: str) -> None:
        NotFoundError.__init__(
            self,
            f"ritual '{name}' is retired; its history is kept (`ritual show {name}`, `ritual list --all`)",
        )
        self.name = name


class ConflictError(RitualError):
    """The change would silently overwrite something (file vs. CLI, duplicates)."""


class StoreError(RitualError):
    """The database cannot be used as asked."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer ritual-scheduler than this one."""


class UnknownCompletionError(NotFoundError):
    """No completion has that id."""

    def __init__(self, completion_id: int) -> None:
        super().__init__(f"no completion with id {completion_id}")
        self.completion_id = completion_id
