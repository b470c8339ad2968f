// The scan station (/scan): one field that keeps the focus, a function key per action, every
// scan sent with its own Idempotency-Key, and a queue on the device for scans made while the
// network is down, sent (with the same keys) when it returns: nothing lost, nothing done twice.
"use strict";
(function () {
  const root = document.getElementById("station");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const input = $("scan-input");
  const form = $("scan-form");
  const label = $("scan-label");
  const outcome = $("scan-outcome");
  const card = $("scan-card");
  const log = $("scan-log");
  const queueList = $("queue-list");
  const queueCount = $("queue-count");
  const netState = $("net-state");
  const msg = (name) => root.dataset["msg" + name] || name;
  const words = JSON.parse(root.dataset.words || "{}");
  const QUEUE = "holdfast.scanQueue";
  const SETTINGS = "holdfast.scanSettings";
  const GS = "\u001d";

  let mode = "";
  let stage = "code"; // code → (order | quantity → reason)
  let pending = null; // the scan being completed: {code, action, quantity?}
  let orders = [];
  let flushing = false;

  // Settings kept on the device: where the station stands, the GS stand-in.
  const settings = JSON.parse(localStorage.getItem(SETTINGS) || "{}");
  for (const [id, name] of [["scan-warehouse", "warehouse"], ["scan-destination", "destination"], ["scan-voyage", "voyage"], ["scan-gs", "gs"]]) {
    const el = $(id);
    if (settings[name] !== undefined && el) el.value = settings[name];
    el && el.addEventListener("change", () => {
      settings[name] = el.value;
      localStorage.setItem(SETTINGS, JSON.stringify(settings));
    });
  }

  // Sound: a high beep for success, a low double buzz for failure.
  let audio = null;
  function tone(freq, ms, type, at) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = type;
      osc.frequency.value = freq;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(audio.destination);
      const start = audio.currentTime + (at || 0);
      osc.start(start);
      osc.stop(start + ms / 1000);
    } catch (e) { /* no sound on this device */ }
  }
  const good = () => tone(1320, 120, "sine");
  const bad = () => { tone(220, 250, "square"); tone(220, 250, "square", 0.32); };

  function show(kind, text) {
    outcome.className = "outcome " + kind;
    outcome.textContent = text;
    document.body.dataset.flash = kind;
    setTimeout(() => { if (document.body.dataset.flash === kind) delete document.body.dataset.flash; }, 900);
  }

  function setStage(next) {
    stage = next;
    const labels = { code: "LabelCode", quantity: "LabelQuantity", reason: "LabelReason", order: "LabelCode" };
    label.textContent = root.dataset[labels[next].charAt(0).toLowerCase() + labels[next].slice(1)];
    input.inputMode = next === "quantity" ? "decimal" : "text";
  }

  function setMode(action) {
    mode = action;
    pending = null;
    setStage("code");
    for (const b of document.querySelectorAll(".mode")) {
      b.setAttribute("aria-pressed", b.dataset.action === action ? "true" : "false");
    }
    input.focus();
  }

  function randomKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "scan-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // A scanner that cannot type GS sends the stand-in instead.
  function normalise(text) {
    const standIn = ($("scan-gs").value || "").trim();
    let code = text.replace(/\r|\n/g, "");
    if (standIn) code = code.split(standIn).join(GS);
    return code.trim() === "" ? "" : code;
  }

  function addLog(entry, ok, text) {
    const li = document.createElement("li");
    li.className = ok ? "ok" : "fail";
    const time = new Date().toLocaleTimeString(root.dataset.lang);
    li.textContent = time + " · " + entry.label + " · " + text;
    log.prepend(li);
    while (log.children.length > 30) log.lastChild.remove();
  }

  function loadQueue() { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); }
  function saveQueue(q) { localStorage.setItem(QUEUE, JSON.stringify(q)); renderQueue(q); }
  function renderQueue(q) {
    q = q || loadQueue();
    queueCount.textContent = String(q.length);
    queueList.replaceChildren(...q.map((e) => {
      const li = document.createElement("li");
      li.textContent = e.label;
      return li;
    }));
    netState.textContent = navigator.onLine ? msg("Online") : msg("Offline");
    netState.className = "net " + (navigator.onLine ? "up" : "down");
  }

  // Sends one scan. Resolves to {sent: false} when the network (or the server) is away.
  async function post(entry) {
    let response;
    try {
      response = await fetch("/scan/submit", {
        method: "POST",
        redirect: "manual",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "Idempotency-Key": entry.key,
          "X-CSRF-Token": root.dataset.csrf,
        },
        body: JSON.stringify(entry.body),
      });
    } catch (e) {
      return { sent: false };
    }
    if (response.type === "opaqueredirect" || response.status === 503 || response.status === 502 || response.status === 504) {
      return { sent: false };
    }
    let payload = {};
    try { payload = await response.json(); } catch (e) { /* not JSON */ }
    if (response.status === 409 && payload.error && payload.error.code === "idempotency_key_in_use") {
      return { sent: false };
    }
    return { sent: true, ok: response.ok, payload };
  }

  // What happened, in words (and a mark, for whoever cannot tell the colours apart).
  function describe(result) {
    if (result.ok) {
      const lot = result.payload.lot || {};
      const done = words["done." + result.payload.action] || result.payload.action || "";
      const quantity = lot.quantity_on_hand ? String(Number(lot.quantity_on_hand)) : "";
      return "✓ " + done + " · " + (lot.code || "") + " · " + (words["status." + lot.status] || lot.status || "") + " · " + quantity + " " + (lot.unit || "");
    }
    const error = result.payload.error || {};
    return "✗ " + (error.message || msg("Failed"));
  }

  async function send(body, labelText) {
    const entry = { key: randomKey(), body, label: labelText, at: Date.now() };
    const result = await post(entry);
    if (!result.sent) {
      const q = loadQueue();
      q.push(entry);
      saveQueue(q);
      show("queued", msg("Queued") + " (" + q.length + ")");
      bad();
      return;
    }
    finish(entry, result);
  }

  function finish(entry, result) {
    if (result.ok) {
      show("ok", describe(result));
      good();
      addLog(entry, true, describe(result));
      if (entry.body.code) lookup(entry.body.code, true);
    } else {
      const error = result.payload.error || {};
      // A count that differs needs its reason: ask for it, then send again.
      if (error.details && error.details.field === "reason" && entry.body.action === "count" && !entry.retry) {
        pending = Object.assign({}, entry.body);
        setStage("reason");
        show("fail", msg("NeedReason"));
        bad();
        return;
      }
      show("fail", describe(result));
      bad();
      addLog(entry, false, describe(result));
    }
  }

  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      let q = loadQueue();
      while (q.length > 0) {
        const entry = q[0];
        const result = await post(entry);
        if (!result.sent) break;
        q = loadQueue().filter((e) => e.key !== entry.key);
        saveQueue(q);
        entry.retry = true;
        if (result.ok) {
          addLog(entry, true, msg("Sent") + " · " + describe(result));
        } else {
          addLog(entry, false, describe(result));
        }
      }
    } finally {
      flushing = false;
      renderQueue();
    }
  }

  async function lookup(code, quiet) {
    try {
      const response = await fetch("/scan/lot?code=" + encodeURIComponent(code), {
        credentials: "same-origin",
        redirect: "manual",
        headers: { Accept: "text/html" },
      });
      const html = await response.text();
      card.innerHTML = response.ok || response.status === 404 || response.status === 422 ? html : "";
      const items = card.querySelectorAll("[data-order-id]");
      orders = Array.from(items, (li) => li.dataset.orderId);
      if (!quiet) {
        if (response.ok) { show("ok", msg("Lookup")); good(); } else { show("fail", card.textContent.trim()); bad(); }
      }
      return response.ok;
    } catch (e) {
      if (!quiet) { show("fail", msg("Offline")); bad(); }
      return false;
    }
  }

  function base(code, action) {
    const body = { code, action };
    if (action === "receive" || action === "unload") body.warehouse_id = $("scan-warehouse").value || undefined;
    if (action === "transfer") body.warehouse_id = $("scan-destination").value || undefined;
    if (action === "load") body.voyage_id = $("scan-voyage").value || undefined;
    return body;
  }

  async function submit() {
    const raw = input.value;
    input.value = "";
    if (stage === "code") {
      const code = normalise(raw);
      if (!code) return;
      const shown = code.split(GS).join("⟨GS⟩");
      if (mode === "") { await lookup(code, false); return; }
      if (mode === "count") {
        pending = base(code, "count");
        pending.label = shown;
        setStage("quantity");
        show("wait", msg("NeedQuantity"));
        return;
      }
      if (mode === "release") {
        const found = await lookup(code, true);
        pending = base(code, "release");
        pending.label = shown;
        if (found && orders.length === 1) {
          pending.release_order_id = orders[0];
        } else if (found && orders.length > 1) {
          setStage("order");
          show("wait", msg("NeedOrder"));
          return;
        }
        const { label: l, ...body } = pending;
        pending = null;
        await send(body, l + " · " + mode);
        return;
      }
      await send(base(code, mode), shown + " · " + mode);
      return;
    }
    if (!pending) { setStage("code"); return; }
    const { label: l, ...body } = pending;
    if (stage === "order") {
      const n = parseInt(raw, 10);
      if (!(n >= 1 && n <= orders.length)) { show("fail", msg("NeedOrder")); bad(); return; }
      body.release_order_id = orders[n - 1];
    } else if (stage === "quantity") {
      body.quantity = raw.trim();
    } else if (stage === "reason") {
      body.reason = raw.trim();
    }
    pending = null;
    setStage("code");
    await send(body, (l || body.code) + " · " + body.action);
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  for (const b of document.querySelectorAll(".mode")) {
    b.addEventListener("click", () => setMode(b.dataset.action));
  }
  const keys = { F1: "receive", F2: "release", F3: "count", F4: "load", F5: "unload", F6: "transfer" };
  document.addEventListener("keydown", (event) => {
    let action;
    if (keys[event.key] !== undefined) action = keys[event.key];
    else if (event.altKey && /^[1-6]$/.test(event.key)) action = Object.values(keys)[Number(event.key) - 1];
    else if (event.key === "Escape") action = "";
    if (action === undefined) return;
    event.preventDefault();
    setMode(action);
  });
  // The field keeps the focus, except while a setting is being changed.
  document.addEventListener("focusout", () => {
    setTimeout(() => {
      const active = document.activeElement;
      if (!active || active === document.body || !active.closest(".settings, form.inline, nav, .langs")) input.focus();
    }, 0);
  });
  window.addEventListener("online", () => { renderQueue(); flush(); });
  window.addEventListener("offline", () => renderQueue());
  setInterval(flush, 3000);
  renderQueue();
  flush();
  input.focus();
})();
