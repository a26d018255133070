"""enquire_link and inactivity decisions as functions of now."""

from __future__ import annotations

from smpp.keepalive import Close, Keepalive, SendEnquireLink


def test_probe_after_interval_of_silence() -> None:
    ka = Keepalive(0.0, interval=30.0, response_timeout=5.0)
    assert ka.tick(29.9) is None
    assert ka.next_deadline() == 30.0
    assert ka.tick(30.0) == SendEnquireLink()
    # Only one probe at a time.
    assert ka.tick(31.0) is None
    assert ka.next_deadline() == 35.0


def test_traffic_postpones_the_probe() -> None:
    ka = Keepalive(0.0, interval=30.0)
    ka.received(20.0)
    assert ka.tick(30.0) is None
    assert ka.next_deadline() == 50.0


def test_unanswered_probe_closes() -> None:
    ka = Keepalive(0.0, interval=30.0, response_timeout=5.0)
    assert ka.tick(30.0) == SendEnquireLink()
    action = ka.tick(35.0)
    assert isinstance(action, Close)
    assert "unanswered" in action.reason


def test_answered_probe_rearms() -> None:
    ka = Keepalive(0.0, interval=30.0, response_timeout=5.0)
    ka.tick(30.0)
    ka.probe_answered(31.0)
    assert ka.tick(35.0) is None
    assert ka.tick(61.0) == SendEnquireLink()


def test_inactivity_timeout_closes() -> None:
    ka = Keepalive(0.0, interval=30.0, response_timeout=100.0, inactivity_timeout=45.0)
    assert ka.tick(30.0) == SendEnquireLink()
    assert ka.next_deadline() == 45.0
    action = ka.tick(45.0)
    assert isinstance(action, Close)
    assert "nothing received" in action.reason


def test_deadline_and_tick_agree_despite_rounding() -> None:
    """Sleeping until next_deadline() must find the action due (no spinning at one instant)."""
    last = 121.34750017368027
    ka = Keepalive(last, interval=30.0, response_timeout=7.3)
    deadline = ka.next_deadline()
    assert ka.tick(deadline) == SendEnquireLink()
    probe_deadline = ka.next_deadline()
    assert isinstance(ka.tick(probe_deadline), Close)


def test_a_pdu_begun_must_end_within_the_pdu_timeout() -> None:
    ka = Keepalive(0.0, interval=30.0, response_timeout=10.0, pdu_timeout=4.0)
    assert ka.partial(1.0, pending=True)  # a PDU began arriving
    assert not ka.partial(2.0, pending=True)  # more octets of the same PDU: no new deadline
    assert ka.next_deadline() == 5.0
    assert ka.tick(4.9) is None
    assert isinstance(ka.tick(5.0), Close)


def test_a_finished_pdu_clears_its_deadline_and_the_next_one_gets_its_own() -> None:
    ka = Keepalive(0.0, interval=30.0, response_timeout=10.0, pdu_timeout=4.0)
    ka.partial(1.0, pending=True)
    ka.received(3.0)
    assert ka.partial(3.0, pending=True)  # the same read began the next PDU
    assert ka.next_deadline() == 7.0
    ka.received(6.0)
    assert not ka.partial(6.0, pending=False)
    assert ka.next_deadline() == 36.0
