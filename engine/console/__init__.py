"""The operator's commands (``ja-engine appeal ...``): thin faces over the campaign API."""

from engine.console.appeals import add_appeal_commands

__all__ = ["add_appeal_commands"]
