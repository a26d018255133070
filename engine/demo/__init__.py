"""``ja-engine demo``: the main job end to end, in one process, checked against the handsets.

What it does. Redis comes from ``REDIS_URL`` (else the embedded server); a fresh namespace
(``demo<timestamp>-<random>``) holds this run's data, deleted at the end unless ``--keep``. The
SMSC simulator listens on a free loopback port with ``--recipients`` handsets (10,000), all
imported as subscribers, and the engine binds to it. Then the story, as it happens:

1. an urgent action is created (public: a stranger's JA counts too), its text checked;
2. it is sent: the fan-out queues one message per subscriber (a progress line a second);
3. the handsets answer: JA and its variants, duplicates, STOP, HELP, typos and other texts,
   strangers; the engine signs, rejects duplicates, opts out, answers (a line a second);
4. each signer's thank-you goes out ``thank_delay`` after the JA with the count at that moment
   (a few, as the handsets received them);
5. when nothing is left to happen, the outcome goes to the signers still subscribed;
6. a summary, and every figure reconciled: the engine's side (Redis state, metrics, the
   inbound log) against the handsets' side (the simulator's ledger of everything each
   handset received and sent). A mismatch prints ✗ and the demo exits 1.

Time is compressed: the simulator divides the handsets' reply delays (real-world minutes) by
``COMPRESSION``, and the engine's ``thank_delay`` (60 s in production) and
``redelivery_window`` (30 s) are shortened to match, so the whole story takes well under a
minute. The engine's metrics are served over HTTP on a free loopback port while it runs.

What is exactly comparable, and why (the reconciliation below relies on each point):

* every handset answers any message it receives (the appeal, a thank-you, a HELP answer, the
  outcome...) unless it has opted out, so one number can send JA several times: signatures
  are distinct numbers, the rest are duplicates;
* a reply is in the ledger once per time the handset sent it; the engine records it once per
  redelivery window (the same text from the same number within the window is taken for a
  carrier's redelivery), so "acknowledged" = "recorded" + "redeliveries" (+ floods, dropped
  by the per-number rate limit), checked per (number, text) against the inbound log;
* strangers (numbers outside the population) sign the public appeal and get a thank-you,
  and the outcome (``outcome_to_public``); they never answer (they are not handsets);
* a receipt UNDELIV or REJECTD opts a number we know out (source "carrier"): such a
  signer gets no thank-you if it is not out yet, and no outcome;
* the outcome goes to signers not opted out when it is sent (STOP or carrier).

The modules: ``run`` (settings and what a run learns), ``story`` (the steps as they
happen), ``reconcile`` (the checks), ``summary`` (what is printed last), ``housekeeping``
(the Redis namespace).
"""

from engine.demo.run import DemoOptions
from engine.demo.story import main, run_demo

__all__ = ["DemoOptions", "main", "run_demo"]
