// WHAT: the live negotiation view: reads the API's SSE stream and appends what the viewer may see.
// WHY: the page's server-rendered log ends where the stream starts (?lastEventId); EventSource resumes
//      by itself with Last-Event-ID after a dropped connection, and a seq already shown is skipped.
// HOW: no framework, no build. Drafts (`event: delta`) fill one bubble per side (data-draft) until that
//      turn's message replaces it; the SVG chart is drawn from the message bubbles' data-price.
const root = document.getElementById("negotiation");
const transcript = document.getElementById("transcript");
const chart = document.getElementById("chart");
const SVG = "http://www.w3.org/2000/svg";
let lastSeq = Number(root.dataset.lastSeq || 0);

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function bubble(event) {
  const d = event.data || {};
  const base = { "data-seq": event.seq, "data-role": event.actor, "data-type": event.type };
  if (event.type === "message") {
    const node = el("div", { ...base, class: `msg bubble side-${event.actor}`, "data-action": d.action,
      "data-turn": d.turn, "data-price": d.price || null });
    const who = el("div", { class: "who" }, `${event.actor} · ${d.action}`);
    if (d.price) { who.append(" · "); who.append(el("b", {}, d.price)); }
    node.append(who, el("p", {}, d.text || ""));
    return node;
  }
  if (event.type === "thought" || event.type === "guardrail") {
    const thought = event.type === "thought";
    const node = el("div", { ...base, class: `note ${thought ? "private" : "guardrail"} side-${event.actor}` });
    const title = thought
      ? `${event.actor}'s private thought${d.planned_price ? ` · plans ${d.planned_price}` : ""}`
      : `Guardrail (${event.actor}): ${d.kind || ""}`;
    node.append(el("div", { class: "who" }, title), el("p", {}, thought ? d.reasoning || "" : d.detail || ""));
    return node;
  }
  if (event.type === "outcome") {
    const price = d.agreed_price ? ` at ${d.agreed_price}` : "";
    return el("div", { ...base, class: "line" }, `Outcome: ${d.result}${price} (${d.end_reason})`);
  }
  return el("div", { ...base, class: "line" }, `Status: ${d.status}${d.reason ? ` (${d.reason})` : ""}`);
}

function showOutcome(result, price) {
  const box = document.getElementById("outcome");
  box.dataset.outcome = result;
  box.hidden = false;
  box.textContent = `Outcome: ${result}${price ? ` at ${price}` : ""}`;
}

function setStatus(status) {
  const badge = document.getElementById("status");
  badge.dataset.status = status;
  badge.className = `badge status-${status}`;
  badge.textContent = status;
}

function setConnection(state, text) {
  const note = document.getElementById("connection");
  note.dataset.connection = state;
  note.textContent = text;
}

function onEvent(message) {
  const event = JSON.parse(message.data);
  if (event.seq <= lastSeq || transcript.querySelector(`[data-seq="${event.seq}"]`)) return; // shown already
  lastSeq = event.seq;
  if (event.type === "message") transcript.querySelector(`[data-draft][data-role="${event.actor}"]`)?.remove();
  transcript.append(bubble(event));
  if (event.type === "status") setStatus(event.data.status);
  if (event.type === "outcome") showOutcome(event.data.result, event.data.agreed_price);
  if (event.type === "message") drawChart();
}

function onDelta(message) {
  const delta = JSON.parse(message.data);
  let draft = transcript.querySelector(`[data-draft][data-role="${delta.actor}"]`);
  if (draft && (Number(draft.dataset.turn) !== delta.turn || Number(draft.dataset.attempt) < delta.attempt)) {
    draft.remove(); // an older turn's or attempt's draft
    draft = null;
  }
  if (draft && Number(draft.dataset.attempt) > delta.attempt) return;
  if (!draft) {
    draft = el("div", { class: `msg bubble draft side-${delta.actor}`, "data-draft": "", "data-role": delta.actor,
      "data-turn": delta.turn, "data-attempt": delta.attempt });
    draft.append(el("div", { class: "who" }, `${delta.actor} is writing…`), el("p"));
  }
  transcript.append(draft); // the draft stays last
  draft.querySelector("p").textContent += delta.text;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function drawChart() {
  const W = 320, H = 200, L = 44, R = 8, T = 10, B = 22;
  const offers = [...transcript.querySelectorAll(".msg[data-seq][data-price]")].map((n) => ({
    role: n.dataset.role, turn: Number(n.dataset.turn), price: Number(n.dataset.price) }));
  const lines = [["list", Number(root.dataset.listPrice)]];
  for (const role of ["buyer", "seller"]) {
    const limit = root.dataset[`${role}Limit`];
    if (limit) lines.push([`limit ${role}`, Number(limit)]);
  }
  const prices = [...offers.map((o) => o.price), ...lines.map((l) => l[1])];
  let lo = Math.min(...prices), hi = Math.max(...prices);
  if (hi - lo < 1) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.08; lo -= pad; hi += pad;
  const turns = Math.max(2, ...offers.map((o) => o.turn));
  const x = (t) => L + ((t - 1) / (turns - 1)) * (W - L - R);
  const y = (p) => T + (1 - (p - lo) / (hi - lo)) * (H - T - B);
  chart.replaceChildren();
  chart.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  for (const p of [lo + pad, hi - pad]) {
    const label = svg("text", { x: L - 4, y: y(p) + 4, class: "tick", "text-anchor": "end" });
    label.textContent = p.toFixed(0);
    chart.append(label);
  }
  const turnLabel = svg("text", { x: W - R, y: H - 6, class: "tick", "text-anchor": "end" });
  turnLabel.textContent = `turn ${turns}`;
  chart.append(turnLabel);
  for (const [name, price] of lines) {
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(price), y2: y(price), class: `ref ${name}` }));
  }
  for (const role of ["buyer", "seller"]) {
    const own = offers.filter((o) => o.role === role);
    if (!own.length) continue;
    chart.append(svg("polyline", { class: `series ${role}`,
      points: own.map((o) => `${x(o.turn).toFixed(1)},${y(o.price).toFixed(1)}`).join(" ") }));
    for (const o of own) chart.append(svg("circle", { cx: x(o.turn), cy: y(o.price), r: 3, class: `dot ${role}` }));
  }
}

function connect() {
  const source = new EventSource(root.dataset.stream);
  for (const type of ["status", "message", "thought", "guardrail", "outcome"]) source.addEventListener(type, onEvent);
  source.addEventListener("delta", onDelta);
  source.addEventListener("open", () => setConnection("open", "Live."));
  source.addEventListener("end", (message) => {
    source.close();
    const end = JSON.parse(message.data);
    setStatus(end.status);
    if (!document.getElementById("outcome").dataset.outcome) showOutcome(end.status);
    transcript.querySelectorAll("[data-draft]").forEach((n) => n.remove());
    setConnection("closed", "Finished.");
  });
  source.addEventListener("error", (message) => {
    // The server's `event: error` (it then closes) or a dropped connection: EventSource reconnects
    // with Last-Event-ID by itself, unless the server refused the stream (then it is CLOSED).
    setConnection(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting",
      source.readyState === EventSource.CLOSED ? "Disconnected." : "Reconnecting…");
  });
}

drawChart();
if ("live" in root.dataset) connect();
