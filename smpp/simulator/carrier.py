"""Faults on demand: the ways a real carrier misbehaves, configured or scripted, counted.

``Carrier`` holds the live fault settings (a copy of ``[faults]`` that scripts and tests
may change while the simulator runs) and decides, per request, whether to answer normally
or to misbehave. The link applies the decision; each fault is counted in
``Stats.faults`` under its name:

* ``withheld``: a submit never answered (the ESME's window slot stays taken);
* ``generic_nack``: a submit answered with generic_nack;
* ``error_status``: a submit answered with ``error_status``;
* ``delayed``: an answer sent ``response_delay`` (+ jitter) seconds late;
* ``refused_bind``: a bind refused while ``refuse_binds`` is in force;
* ``dropped_bind``: a connection cut without a word (after N seconds or N messages, or
  on demand);
* ``unbind``: the message centre unbinds the ESME;
* ``malformed``: a deliver_sm with a broken body sent to the ESME;
* ``reordered_response``: a held-back answer sent after the answer to a later request
  (``response_jitter`` reorders them);
* ``early_receipt``: a receipt queued for the ESME while its submit_sm_resp was still held
  back (a receipt ``delay`` shorter than ``response_delay``).
"""

from __future__ import annotations

import random
from typing import Final

import msgspec

from smpp.constants import CommandId
from smpp.simulator.config import FaultConfig, status_code
from smpp.simulator.stats import Stats

__all__ = ["MALFORMED_PDU", "Answer", "Carrier"]

MALFORMED_PDU: Final = (
    (21).to_bytes(4, "big")
    + int(CommandId.DELIVER_SM).to_bytes(4, "big")
    + bytes(4)
    + (0x7FFFFFF0).to_bytes(4, "big")
    + b"\x00\x01\x0131"
)
"""A deliver_sm cut off inside source_addr (no NUL): the ESME should answer it with
generic_nack or deliver_sm_resp carrying an error, and keep the connection."""


class Answer:
    """How to answer one submit (constants, compared by identity)."""

    NORMAL: Final = "normal"
    WITHHOLD: Final = "withheld"
    NACK: Final = "generic_nack"
    ERROR: Final = "error_status"


class Carrier:
    """The fault policy. ``settings`` may be changed at any time (see ``set``)."""

    def __init__(self, config: FaultConfig, stats: Stats, *, seed: int, now: float) -> None:
        self.settings = msgspec.structs.replace(config)
        self.stats = stats
        self._rng = random.Random(seed ^ 0x5EED)
        self.refuse_until = now + config.refuse_binds_for
        self._update()

    def _update(self) -> None:
        s = self.settings
        self.error_status = status_code(s.error_status)
        self.refuse_status = status_code(s.refuse_status)
        self.active = bool(
            s.withhold_fraction
            or s.generic_nack_fraction
            or s.error_fraction
            or s.response_delay
            or s.response_jitter
            or s.drop_bind_after_messages is not None
            or s.malformed_after_messages is not None
        )
        """False when every submit gets the plain answer: the link skips this module."""

    def set(self, field: str, value: object) -> None:
        """Change one ``[faults]`` setting now (e.g. ``set("generic_nack_fraction", 0.1)``).

        Raises:
            ValueError: no such field, or a value the field does not accept.
        """
        if field not in FaultConfig.__struct_fields__ or field == "script":
            raise ValueError(f"faults has no setting {field!r}")
        data = msgspec.structs.asdict(self.settings) | {field: value}
        try:
            self.settings = msgspec.convert(data, FaultConfig)
        except msgspec.ValidationError as exc:
            raise ValueError(f"faults.{field}: {exc}") from None
        self._update()

    def count(self, fault: str) -> None:
        self.stats.faults[fault] += 1

    def refusing(self, now: float) -> bool:
        """True while binds are being refused (counts the refusal)."""
        if now < self.refuse_until:
            self.count("refused_bind")
            return True
        return False

    def refuse_binds(self, seconds: float, now: float) -> None:
        self.refuse_until = max(self.refuse_until, now + seconds)

    def answer(self) -> str:
        """Draw how to answer one submit (counts the fault it picks)."""
        s = self.settings
        u = self._rng.random()
        for threshold, answer in (
            (s.withhold_fraction, Answer.WITHHOLD),
            (s.generic_nack_fraction, Answer.NACK),
            (s.error_fraction, Answer.ERROR),
        ):
            if u < threshold:
                self.count(answer)
                return answer
            u -= threshold
        return Answer.NORMAL

    def delay(self) -> float:
        """Seconds to hold the next answer back (0.0: answer now)."""
        s = self.settings
        if not (s.response_delay or s.response_jitter):
            return 0.0
        self.count("delayed")
        return s.response_delay + s.response_jitter * self._rng.random()
