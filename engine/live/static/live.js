// The live appeal page: the public counter of one appeal, pushed over Server-Sent Events,
// polled when a stream cannot be had. It reads only the public counter (see docs/live.md).
// URLs are relative, so the page also works behind a proxy that mounts it under a prefix.
"use strict";

(function () {
  const match = location.pathname.match(/\/live\/(\d+)\/?$/);
  const appeal = match ? match[1] : "";
  const base = location.pathname.replace(/\/live\/\d+\/?$/, "");
  const counterUrl = base + "/api/v1/public/appeals/" + appeal + "/counter";
  const eventsUrl = base + "/live/" + appeal + "/events";
  const params = new URLSearchParams(location.search);
  const lang = (params.get("lang") || navigator.language || "en").slice(0, 2).toLowerCase();
  const TEXTS = {
    en: { signatures: "signatures", perMinute: "per minute, last hour", now: "now",
          since: "since the appeal went out", waiting: "Waiting for the appeal…",
          offline: "Reconnecting…", h: "h", min: "min" },
    nl: { signatures: "handtekeningen", perMinute: "per minuut, afgelopen uur", now: "nu",
          since: "sinds de oproep verstuurd is", waiting: "Wachten op de oproep…",
          offline: "Opnieuw verbinden…", h: "u", min: "min" },
  };
  const t = TEXTS[lang] || TEXTS.en;
  const format = new Intl.NumberFormat(lang);
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const POLL_MS = 2000;
  const STREAM_RETRY_MS = 60000;

  let shown = 0;        // the number on screen (it moves towards target)
  let target = 0;
  let sentAt = null;    // Date the appeal went out
  let poller = null;
  let lastSeen = 0;     // Date.now() of the last figures received

  document.documentElement.lang = lang;
  $("label").textContent = t.signatures;
  $("status").textContent = t.waiting;

  function render(counter) {
    lastSeen = Date.now();
    $("live").dataset.state = "live";
    $("status").textContent = "";
    if ($("title").textContent !== counter.title) {
      $("title").textContent = counter.title;
      document.title = counter.title;
    }
    sentAt = counter.sent_at || counter.opened_at ? new Date(counter.sent_at || counter.opened_at) : null;
    target = counter.count;
    $("count").dataset.count = String(target);
    drawChart(counter.per_minute || []);
    tick();
    requestAnimationFrame(rise);
  }

  // The count rises to its new value over about a second, never past it.
  let riseFrom = 0, riseStart = 0, rising = false;
  function rise(now) {
    if (!rising) { rising = true; riseFrom = shown; riseStart = now; }
    const done = Math.min(1, (now - riseStart) / 900);
    shown = Math.round(riseFrom + (target - riseFrom) * (1 - Math.pow(1 - done, 3)));
    $("count").textContent = format.format(shown);
    if (done < 1 && shown !== target) { requestAnimationFrame(rise); return; }
    shown = target;
    $("count").textContent = format.format(shown);
    rising = false;
  }

  function drawChart(perMinute) {
    const svg = $("chart");
    const n = Math.max(perMinute.length, 1);
    const peak = Math.max(1, ...perMinute);
    const width = 600 / n;
    const bars = [];
    const axis = document.createElementNS(SVG, "line");
    axis.setAttribute("x1", "0"); axis.setAttribute("x2", "600");
    axis.setAttribute("y1", "119.5"); axis.setAttribute("y2", "119.5");
    bars.push(axis);
    perMinute.forEach((value, i) => {
      if (!value) return;
      const height = Math.max(2, (value / peak) * 116);
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", (i * width + width * 0.1).toFixed(2));
      rect.setAttribute("width", (width * 0.8).toFixed(2));
      rect.setAttribute("y", (120 - height).toFixed(2));
      rect.setAttribute("height", height.toFixed(2));
      bars.push(rect);
    });
    svg.replaceChildren(...bars);
    const latest = perMinute.length > 1 ? perMinute[perMinute.length - 2] : (perMinute[0] || 0);
    $("chart-caption").textContent =
      format.format(latest) + " " + t.perMinute + " · max " + format.format(Math.max(0, ...perMinute));
  }

  function tick() {
    if (!sentAt) { $("since").textContent = ""; return; }
    const seconds = Math.max(0, Math.floor((Date.now() - sentAt.getTime()) / 1000));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const clock = h ? h + " " + t.h + " " + String(m).padStart(2, "0") + " " + t.min
                    : m + ":" + String(s).padStart(2, "0");
    $("since").textContent = clock + " " + t.since;
    if (lastSeen && Date.now() - lastSeen > 45000) { $("status").textContent = t.offline; }
  }
  setInterval(tick, 1000);

  async function poll() {
    try {
      const reply = await fetch(counterUrl, { cache: "no-store" });
      if (reply.ok) { render(await reply.json()); }
      else if (reply.status === 404) { $("live").dataset.state = "waiting"; $("status").textContent = t.waiting; }
    } catch (error) {
      $("status").textContent = t.offline;
    }
  }

  function startPolling() {
    if (poller === null) { poll(); poller = setInterval(poll, POLL_MS); }
  }

  function stopPolling() {
    if (poller !== null) { clearInterval(poller); poller = null; }
  }

  // Server-Sent Events when the server has a slot for us; otherwise poll, and try the
  // stream again a minute later.
  function stream() {
    if (!("EventSource" in window)) { startPolling(); return; }
    const source = new EventSource(eventsUrl);
    source.onmessage = (event) => { stopPolling(); render(JSON.parse(event.data)); };
    source.addEventListener("gone", () => {
      source.close();
      $("live").dataset.state = "waiting";
      startPolling();
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {  // refused (503, 404): no retry by itself
        startPolling();
        setTimeout(() => { stopPolling(); stream(); }, STREAM_RETRY_MS);
      }
    };
  }

  if (appeal) { poll(); stream(); }
})();
