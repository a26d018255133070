"""The fault suite: what the engine keeps, loses and repeats when things break.

``python -m bench.faults [--quick] [--only NAME] [--json PATH]``

Scenarios, each with its invariants asserted (exit status 1 if any fails):

* ``kill9-fanout``: ``kill -9`` during an appeal fan-out, restart (``crash``);
* ``kill9-burst``: ``kill -9`` during a JA burst with thank-yous, restart (``crash``);
* ``carrier``: dropped binds, withheld responses, ESME_RTHROTTLED and ESME_RMSGQFUL answers,
  receipts before their submit_sm_resp with responses out of order (``carrier``);
* ``redis-restart``: a private Redis killed and restarted during a JA burst
  (``redis_restart``);
* ``stalled-carrier``: the carrier stops answering during a fan-out (``memory``);
* ``million-fanout``: the engine's memory over a 1,000,000-recipient fan-out (``memory``).

One Markdown row per scenario (per fault for ``carrier``): what was injected, messages,
lost, duplicated and why, time to recover, peak engine RSS.
"""

from bench.faults.runner import SCENARIOS, main

__all__ = ["SCENARIOS", "main"]
