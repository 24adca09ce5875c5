"""Nudges through Apprise: channels from settings and config files, drop-in plugins, concurrent sends.

The only package that imports Apprise; its plugin objects never leave it. One module per
concern: ``channel`` and ``channels`` (what the house sees), ``config`` (loading and
diagnosing), ``plugins`` (drop-ins), ``secrets`` (the guard that keeps passwords out of every
log line and message), ``send`` (sending and judging the outcome).
"""

from scheduler.adapters.notify.channel import (
    ALL,
    BUTTON_SCHEMES,
    Channel,
    ChannelConfigError,
    UnknownRecipientError,
    channel_target,
)
from scheduler.adapters.notify.channels import Channels
from scheduler.adapters.notify.config import CONFIG_FILE_NAMES, find_config_file, load_channels
from scheduler.adapters.notify.pool import start_send_pool, stop_send_pool
from scheduler.adapters.notify.secrets import scrub
from scheduler.adapters.notify.send import ntfy_actions, send_all, send_each, send_one, widen_send_pool
from scheduler.app.ports import SendResult

__all__ = [
    "ALL",
    "BUTTON_SCHEMES",
    "CONFIG_FILE_NAMES",
    "Channel",
    "ChannelConfigError",
    "Channels",
    "SendResult",
    "UnknownRecipientError",
    "channel_target",
    "find_config_file",
    "load_channels",
    "ntfy_actions",
    "scrub",
    "send_all",
    "send_each",
    "send_one",
    "start_send_pool",
    "stop_send_pool",
    "widen_send_pool",
]
