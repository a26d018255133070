"""Errors of the protocol layer, named for who is at fault.

``LocalProtocolError``: our own code asked for something the protocol forbids (a bug, or the
wrong state). ``RemoteProtocolError``: the peer sent something we cannot accept; it carries the
command_status the peer should get back (``command_status_hint``), and whether framing is lost
(``fatal``: the connection must close) or only this PDU's body was bad.
"""

from __future__ import annotations

from smpp.constants import CommandStatus

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError", "UnparsableBodyError"]


class ProtocolError(Exception):
    """Base class of every protocol error."""

    def __init__(
        self,
        msg: str,
        command_status_hint: CommandStatus = CommandStatus.ESME_RSYSERR,
    ) -> None:
        super().__init__(msg)
        self.command_status_hint = command_status_hint


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol (or the session's state) does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that break the protocol.

    Args:
        msg: what was expected and what came ("command_length 12 < 16").
        command_status_hint: the status to answer with (generic_nack or the request's _resp).
        fatal: True when framing is lost and the connection cannot carry on.
    """

    def __init__(
        self,
        msg: str,
        command_status_hint: CommandStatus = CommandStatus.ESME_RSYSERR,
        *,
        fatal: bool = False,
    ) -> None:
        super().__init__(msg, command_status_hint)
        self.fatal = fatal


class UnparsableBodyError(RemoteProtocolError):
    """A PDU whose header was readable but whose body was not.

    Framing is intact, so the session answers (generic_nack, or the request's own _resp with
    ``command_status_hint``) and carries on. The header fields say whom to answer.
    """

    def __init__(
        self,
        msg: str,
        command_status_hint: CommandStatus,
        *,
        command_id: int,
        sequence_number: int,
    ) -> None:
        super().__init__(msg, command_status_hint)
        self.command_id = command_id
        self.sequence_number = sequence_number
