"""Which PDUs each side may send in each session state (SMPP 3.4 §2.2-2.3, table 2-1).

Theory of operation: a session starts OPEN once the TCP connection is up. The ESME asks for a
bind; a successful bind response moves both sides to BOUND_TX, BOUND_RX or BOUND_TRX. Either side
may then unbind: the sender of ``unbind`` enters UNBINDING, and the exchange ends in CLOSED.

``ALLOWED[(role, state)]`` lists the *requests* that ``role`` may originate in ``state``.
Responses follow their requests and generic_nack is legal everywhere, so neither is listed.
A request that arrives outside this table is answered with ESME_RINVBNDSTS (or ESME_RALYBND
for a second bind), never acted on.

One deliberate leniency: enquire_link is accepted in OPEN as well (SMPP 5.0 allows it, and
several SMSCs probe a fresh connection with it before the bind).
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from smpp.constants import CommandId

__all__ = ["ALLOWED", "BIND_STATES", "Role", "SessionState", "may_send"]


class Role(Enum):
    """Which end of the link we are (§2.1): the ESME binds, the MC (SMSC) accepts."""

    ESME = "esme"
    MC = "mc"

    @property
    def peer(self) -> Role:
        return Role.MC if self is Role.ESME else Role.ESME


class SessionState(Enum):
    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    CLOSED = "closed"

    @property
    def is_bound(self) -> bool:
        return self in (SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX)


BIND_STATES: Final = {
    CommandId.BIND_TRANSMITTER: SessionState.BOUND_TX,
    CommandId.BIND_RECEIVER: SessionState.BOUND_RX,
    CommandId.BIND_TRANSCEIVER: SessionState.BOUND_TRX,
}
"""The state a successful bind of each kind leads to."""

_C = CommandId
_BINDS = frozenset({_C.BIND_TRANSMITTER, _C.BIND_RECEIVER, _C.BIND_TRANSCEIVER})
_ESME_TX = frozenset(
    {_C.SUBMIT_SM, _C.SUBMIT_MULTI, _C.DATA_SM, _C.QUERY_SM, _C.CANCEL_SM, _C.REPLACE_SM}
)
_MC_RX = frozenset({_C.DELIVER_SM, _C.DATA_SM, _C.ALERT_NOTIFICATION})
_BOUND_COMMON = frozenset({_C.UNBIND, _C.ENQUIRE_LINK})

ALLOWED: Final[dict[tuple[Role, SessionState], frozenset[CommandId]]] = {
    (Role.ESME, SessionState.OPEN): _BINDS | {_C.ENQUIRE_LINK},
    (Role.ESME, SessionState.BOUND_TX): _ESME_TX | _BOUND_COMMON,
    (Role.ESME, SessionState.BOUND_RX): _BOUND_COMMON,
    (Role.ESME, SessionState.BOUND_TRX): _ESME_TX | _BOUND_COMMON,
    (Role.ESME, SessionState.UNBINDING): frozenset(),
    (Role.ESME, SessionState.CLOSED): frozenset(),
    (Role.MC, SessionState.OPEN): frozenset({_C.OUTBIND, _C.ENQUIRE_LINK}),
    (Role.MC, SessionState.BOUND_TX): _BOUND_COMMON,
    (Role.MC, SessionState.BOUND_RX): _MC_RX | _BOUND_COMMON,
    (Role.MC, SessionState.BOUND_TRX): _MC_RX | _BOUND_COMMON,
    (Role.MC, SessionState.UNBINDING): frozenset(),
    (Role.MC, SessionState.CLOSED): frozenset(),
}


def may_send(role: Role, state: SessionState, command_id: int) -> bool:
    """True when ``role`` may originate the request ``command_id`` in ``state``."""
    return command_id in ALLOWED[(role, state)]
