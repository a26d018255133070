"""What the message centre remembers of each accepted message, for query_sm and cancel_sm.

Message ids are the lowercase hex of a serial that starts at 1, so an id maps to its slot
without a dictionary. The last ``capacity`` messages are kept in a ring of three columns
(final state, owning account, time of the final state): about 10 bytes a message. An older
id is unknown, as it is on a real SMSC once the message has left its store.
"""

from __future__ import annotations

from array import array

from smpp.constants import MessageState

__all__ = ["MessageStore", "parse_message_id"]

_DELETED = int(MessageState.DELETED)
_ENROUTE = int(MessageState.ENROUTE)


def parse_message_id(message_id: str) -> int | None:
    """The serial behind one of our message ids, or None if it cannot be one."""
    text = message_id.strip()
    if not text or len(text) > 16:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


class MessageStore:
    """A ring of the most recent messages' states."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.next_serial = 1
        self._state = bytearray()
        self._account = bytearray()
        self._done = array("d")

    def add(self, account: int, outcome: int, done_at: float) -> int:
        """Store a new message; returns its serial."""
        serial = self.next_serial
        self.next_serial = serial + 1
        if len(self._done) < self.capacity:
            self._state.append(outcome)
            self._account.append(account)
            self._done.append(done_at)
        else:
            slot = (serial - 1) % self.capacity
            self._state[slot] = outcome
            self._account[slot] = account
            self._done[slot] = done_at
        return serial

    def _slot(self, serial: int, account: int) -> int:
        if not 0 < serial < self.next_serial or self.next_serial - serial > self.capacity:
            return -1
        slot = (serial - 1) % self.capacity
        return slot if self._account[slot] == account else -1

    def state(self, serial: int, account: int, now: float) -> tuple[int, float] | None:
        """(MessageState, time it was reached or will be) of a message this account sent."""
        slot = self._slot(serial, account)
        if slot < 0:
            return None
        state = self._state[slot]
        done = self._done[slot]
        if state != _DELETED and now < done:
            return _ENROUTE, done
        return state, done

    def cancel(self, serial: int, account: int, now: float) -> bool:
        """Cancel a message still en route; False if unknown or already final."""
        slot = self._slot(serial, account)
        if slot < 0 or self._state[slot] == _DELETED or now >= self._done[slot]:
            return False
        self._state[slot] = _DELETED
        self._done[slot] = now
        return True

    def is_cancelled(self, serial: int) -> bool:
        """True if the message was cancelled (unknown serials are not)."""
        if not 0 < serial < self.next_serial or self.next_serial - serial > self.capacity:
            return False
        return self._state[(serial - 1) % self.capacity] == _DELETED
