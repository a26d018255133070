"""Test helpers for the protocol layer: a pair of sessions with bytes shuttled between them."""

from __future__ import annotations

from smpp.events import Event, NeedData
from smpp.pdu import BindTransceiver, Pdu
from smpp.session import Session
from smpp.state import Role


class SessionPair:
    """An ESME and an MC session wired back to back (h11's ConnectionPair)."""

    def __init__(self, *, window: int = 8) -> None:
        self.esme = Session(Role.ESME, window=window)
        self.mc = Session(Role.MC, window=window)

    def peer(self, session: Session) -> Session:
        return self.mc if session is self.esme else self.esme

    def send(self, sender: Session, pdu: Pdu, now: float = 0.0) -> list[Event]:
        """Send a request from ``sender``; return the events the peer sees."""
        return self.deliver(self.peer(sender), sender.send(pdu, now))

    @staticmethod
    def deliver(receiver: Session, data: bytes) -> list[Event]:
        receiver.receive_data(data)
        events: list[Event] = []
        while not isinstance(event := receiver.next_event(), NeedData):
            events.append(event)
        return events

    def bind(self) -> None:
        from smpp.events import RequestReceived

        (request,) = self.send(self.esme, BindTransceiver(system_id="ja", password="pw"))
        assert isinstance(request, RequestReceived)
        self.deliver(self.esme, self.mc.respond(request))
