"""The operator's commands (``ja-engine appeal ...``): thin faces over the campaign API."""

from engine.console.appeals import add_appeal_commands
from engine.console.subscribers import add_subscriber_commands

__all__ = ["add_appeal_commands", "add_subscriber_commands"]
