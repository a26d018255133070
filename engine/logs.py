"""Log lines as operators read them: plain text on a terminal, JSON lines for a collector.

``configure(fmt, level)`` gives the root logger one handler on stderr. The JSON form is one
object per line with ``ts`` (UTC, ISO 8601, milliseconds), ``level``, ``logger`` and
``message``, then whatever the call passed in ``extra=`` (``carrier``, ``bind``,
``message_id``, ``inbound_id``...), and ``exc`` with the traceback when there is one. Phone
numbers are masked where the message is written (`engine.masking`), never here: a formatter
cannot tell a number from any other run of digits.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Literal, TextIO

__all__ = ["JsonFormatter", "LogFormat", "LogLevel", "configure", "make_handler"]

LogFormat = Literal["plain", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
"""What every LogRecord carries; anything else on a record came in ``extra=``."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in line:
                line[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def _timestamp(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def make_handler(fmt: LogFormat = "plain", stream: TextIO | None = None) -> logging.Handler:
    """A handler writing to ``stream`` (stderr) in ``fmt``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(PLAIN))
    return handler


def configure(
    fmt: LogFormat = "plain", level: LogLevel = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record at ``level`` or above to ``stream`` (stderr) in ``fmt``,
    replacing the root logger's handlers; returns the handler."""
    handler = make_handler(fmt, stream)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
