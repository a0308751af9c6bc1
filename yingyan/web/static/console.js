// The command centre's console: the network at a glance, the incident queue by severity with its
// dispatch deadlines, an incident's evidence, timeline and actions, each camera's live view and
// charts against its baseline, the health of every stream, KPIs, and the replay of a spread.
import {
  ACTIONS, CAUSES, LEVEL_COLOURS, LEVEL_NAMES, STATES, Live, api, clock, dateTime, duration, el, installLogin, label,
  lang, setLang, setZone, siteZone, t,
} from "/static/common.js";

const tzDate = (ts) => window.uPlot.tzDate(new Date(ts * 1e3), siteZone());

const state = {
  me: null, network: null, incidents: new Map(), selected: null, detail: null, view: "map", camera: null,
  timers: [], replay: null, perf: {},
};

// -- start ---------------------------------------------------------------------------------------

const loginBox = installLogin(() => start());
setLang(lang());

async function start() {
  try {
    state.me = await api("/api/v1/me", { noLogin: true });
  } catch (err) {
    if (err.status === 401) { loginBox.open(false); return; }
    banner(err.message);
    return;
  }
  words();
  await Promise.all([loadNetwork(), loadIncidents()]);
  if (state.live && state.live.user !== state.me.username) {
    state.live.stop();
    state.live = null;
  }
  if (!state.live) {
    state.live = new Live({
      kind: "console", user: state.me.username, incidents: true,
      onAlerts: (alerts) => alerts.forEach((a) => refreshIncident(a.incident_id)),
      onIncident: (incident) => { state.incidents.set(incident.id, incident); renderQueue(); renderMap();
        if (state.selected === incident.id) openIncident(incident.id, false); },
      onEscalation: (alert) => banner(`${t("overdue")}: ${alert.incident_id}`),
      onStatus: (up) => { const c = document.getElementById("conn"); c.classList.toggle("up", up);
        c.textContent = up ? t("connected") : t("reconnecting"); banner(up ? "" : t("reconnecting")); },
      onAuthFailed: () => loginBox.open(true),
      onReplaced: () => banner(t("replaced")),
    });
  }
  state.live.ensure();
  if (!state.timers.length) {
    state.timers.push(setInterval(tick, 1000));
    state.timers.push(setInterval(loadNetwork, 10000));
    state.timers.push(setInterval(() => { if (state.view === "health") renderHealth(); }, 3000));
  }
}

function words() {
  document.getElementById("title").textContent = t("console");
  document.title = t("console");
  document.getElementById("lang").textContent = t("language");
  document.getElementById("logout").textContent = t("logout");
  document.getElementById("who").textContent = state.me ? `${state.me.username} (${state.me.role})` : "";
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  for (const tab of document.querySelectorAll("nav.tabs button")) tab.textContent = t(tab.dataset.view);
  document.getElementById("legend").replaceChildren(...LEVEL_COLOURS.map((c, i) =>
    el("span", {}, el("i", { style: `background:${c}` }), LEVEL_NAMES[lang()][i])));
  loginBox.words();
}

function banner(text) {
  const node = document.getElementById("banner");
  node.textContent = text || "";
  node.classList.toggle("show", Boolean(text));
}

// -- data ------------------------------------------------------------------------------------------

async function loadNetwork() {
  try {
    state.network = await api("/api/v1/network");
  } catch (err) { banner(err.message); return; }
  setZone(state.network.timezone);
  document.getElementById("site").textContent = state.network.site;
  renderMap();
  if (state.view === "cameras") renderCameraList();
}

async function loadIncidents() {
  const started = performance.now();
  const list = await api("/api/v1/incidents?open=true&limit=1000");
  state.incidents = new Map(list.map((i) => [i.id, i]));
  renderQueue();
  renderMap();
  state.perf.queue_ms = performance.now() - started;
}

async function refreshIncident(id) {
  try {
    const detail = await api(`/api/v1/incidents/${encodeURIComponent(id)}`);
    state.incidents.set(id, detail);
    renderQueue();
    renderMap();
    if (state.selected === id) showDetail(detail);
  } catch (err) { if (err.status !== 404) banner(err.message); }
}

// -- the network map ---------------------------------------------------------------------------

function layout(network) {
  // One row per direction; x by chainage where known, else by order along the links.
  const rows = new Map();
  for (const cam of network.cameras) {
    if (!rows.has(cam.direction)) rows.set(cam.direction, []);
    rows.get(cam.direction).push(cam);
  }
  const place = new Map();
  let row = 0;
  const all = network.cameras.map((c) => c.position_m).filter((p) => p !== null && p !== undefined);
  const lo = all.length ? Math.min(...all) : 0;
  const hi = all.length ? Math.max(...all) : 1;
  for (const [, cams] of rows) {
    cams.sort((a, b) => (a.position_m ?? 0) - (b.position_m ?? 0));
    cams.forEach((cam, i) => {
      const x = cam.position_m !== null && cam.position_m !== undefined && hi > lo
        ? (cam.position_m - lo) / (hi - lo) : i / Math.max(cams.length - 1, 1);
      place.set(cam.id, { x, row });
    });
    row += 1;
  }
  return { place, rows: Math.max(row, 1), lo, hi };
}

function renderMap() {
  const network = state.network;
  const host = document.getElementById("map");
  if (!network) return;
  const started = performance.now();
  const { place, rows, lo, hi } = layout(network);
  const width = Math.max(900, network.cameras.length * 14);
  const rowH = 90;
  const height = rows * rowH + 30;
  const X = (x) => 40 + x * (width - 80);
  const Y = (r) => 40 + r * rowH;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "network");
  svg.setAttribute("id", "network-svg");
  const add = (tag, attrs, parent = svg) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    parent.append(node);
    return node;
  };
  const byId = new Map(network.cameras.map((c) => [c.id, c]));
  for (const link of network.links) {
    const a = place.get(link.upstream); const b = place.get(link.downstream);
    if (!a || !b) continue;
    const level = byId.get(link.upstream)?.state?.level ?? 0;
    const seg = add("line", { x1: X(a.x), y1: Y(a.row), x2: X(b.x), y2: Y(b.row), stroke: LEVEL_COLOURS[level],
      "stroke-width": 9, "stroke-linecap": "round", class: `segment level${level}`,
      "data-link": `${link.upstream}>${link.downstream}` });
    add("title", {}, seg).textContent = `${link.upstream} → ${link.downstream}: ${LEVEL_NAMES[lang()][level]}`;
  }
  // The spread of open incidents: a translucent band over the checkpoints they affect.
  for (const incident of ordered()) {
    const xs = (incident.camera_ids || []).map((id) => place.get(id)).filter(Boolean);
    if (xs.length > 1) {
      const r = xs[0].row;
      add("line", { x1: X(Math.min(...xs.map((p) => p.x))), y1: Y(r) + 16, x2: X(Math.max(...xs.map((p) => p.x))),
        y2: Y(r) + 16, stroke: "#d93025", "stroke-opacity": 0.45, "stroke-width": 6, class: "spread" });
    }
  }
  for (const cam of network.cameras) {
    const p = place.get(cam.id);
    const stale = cam.health ? cam.health.stale : true;
    const g = add("g", { class: `cam${stale ? " stale" : ""}`, "data-camera": cam.id });
    add("circle", { cx: X(p.x), cy: Y(p.row), r: 7 }, g);
    add("text", { x: X(p.x), y: Y(p.row) - 14, "text-anchor": "middle" }, g).textContent = cam.id;
    const speed = cam.state?.speed_kmh;
    add("title", {}, g).textContent = `${cam.name} · ${speed !== null && speed !== undefined ? Math.round(speed) + " " + t("km") : "—"}`;
  }
  // Open incidents pinned at their estimated source.
  for (const incident of ordered()) {
    const cam = place.get(incident.source_camera_id);
    if (!cam) continue;
    let x = cam.x;
    if (incident.source_position_m !== null && incident.source_position_m !== undefined && hi > lo) {
      x = Math.min(Math.max((incident.source_position_m - lo) / (hi - lo), 0), 1);
    }
    const g = add("g", { class: "pin", "data-incident": incident.id });
    const colour = incident.severity >= 3 ? "#d93025" : "#f2c037";
    add("path", { d: `M ${X(x)} ${Y(cam.row) - 8} l -8 -16 a 9 9 0 1 1 16 0 z`, fill: colour, stroke: "#000" }, g);
    add("title", {}, g).textContent = `${incident.id} ${label(CAUSES, incident.cause)}`;
    g.addEventListener("click", () => openIncident(incident.id));
  }
  host.replaceChildren(svg);
  state.perf.map_ms = performance.now() - started;
}

// -- the queue -------------------------------------------------------------------------------------

function ordered() {
  return [...state.incidents.values()]
    .filter((i) => i.state !== "closed" && i.state !== "dismissed")
    .sort((a, b) => b.severity - a.severity || (a.detected_at < b.detected_at ? 1 : -1));
}

function slaText(incident) {
  if (!["detected", "alerted", "acknowledged", "confirmed"].includes(incident.state)) return null;
  const left = (new Date(incident.dispatch_due_at).getTime() - Date.now()) / 1000;
  return { late: left < 0, text: left < 0 ? `${t("overdue")} ${duration(-left)}` : duration(left) };
}

function renderQueue() {
  const list = document.getElementById("queue");
  const items = ordered();
  if (!items.length) { list.replaceChildren(el("li", { class: "empty" }, t("noIncidents"))); return; }
  list.replaceChildren(...items.map((i) => {
    const sla = slaText(i);
    return el("li", { class: `sev${i.severity}${state.selected === i.id ? " sel" : ""}`, "data-incident": i.id,
      tabindex: 0, onclick: () => openIncident(i.id) },
      el("div", { class: "what" }, `${label(CAUSES, i.cause)} · ${i.source_segment}`),
      el("div", { class: "meta" }, el("span", {}, `${i.id}`), el("span", { class: "badge state" }, label(STATES, i.state))),
      el("div", { class: "meta" }, el("span", {}, `${t("detected")} ${clock(i.detected_at)}`),
        sla ? el("span", { class: `sla${sla.late ? " late" : ""}`, "data-sla": i.id }, `${t("dispatchDue")} ${sla.text}`) : null));
  }));
}

function tick() {
  document.getElementById("clock").textContent = clock(new Date().toISOString());
  for (const node of document.querySelectorAll("[data-sla]")) {
    const incident = state.incidents.get(node.dataset.sla);
    const sla = incident && slaText(incident);
    if (sla) { node.textContent = `${t("dispatchDue")} ${sla.text}`; node.classList.toggle("late", sla.late); }
  }
}

// -- an incident -----------------------------------------------------------------------------------

async function openIncident(id, scroll = true) {
  state.selected = id;
  renderQueue();
  const started = performance.now();
  try {
    const detail = await api(`/api/v1/incidents/${encodeURIComponent(id)}`);
    showDetail(detail);
    state.perf.detail_ms = performance.now() - started;
    if (scroll) document.getElementById("detail-panel").scrollTop = 0;
  } catch (err) {
    document.getElementById("detail").replaceChildren(el("p", { class: "login-error" }, err.message));
  }
}

function showDetail(d) {
  state.detail = d;
  state.incidents.set(d.id, { ...state.incidents.get(d.id), ...d });
  const snapshot = d.evidence.find((e) => e.kind === "snapshot" && e.status === "stored");
  const clip = d.evidence.find((e) => e.kind === "clip" && e.status === "stored");
  const photos = d.evidence.filter((e) => e.kind === "photo");
  const timeline = [
    ...d.timeline.map((x) => ({ at: x.at, who: "engine", what: x.what })),
    ...d.steps.map((s) => ({ at: s.at, who: s.actor, what: `${label(ACTIONS, s.action)}${s.note ? ": " + s.note : ""}${s.data.unit ? " · " + s.data.unit : ""}${s.data.reason ? " · " + s.data.reason : ""}` })),
  ].sort((a, b) => (a.at < b.at ? -1 : 1));
  const actions = d.actions.map((a) => el("button", { type: "button", "data-action": a,
    class: a === "dismiss" ? "danger" : (["confirm", "dispatch", "acknowledge"].includes(a) ? "primary" : ""),
    onclick: () => act(d, a) }, label(ACTIONS, a)));
  const node = el("div", { class: "detail-grid", "data-incident": d.id },
    el("div", {},
      snapshot ? el("img", { src: snapshot.url, alt: "snapshot", id: "snapshot" }) : el("p", { class: "help" }, "—"),
      clip ? el("video", { src: clip.url, controls: true, preload: "metadata", id: "clip" }) : null,
      ...photos.map((p) => el("img", { src: p.url, alt: "photo" })),
      el("div", { class: "actions" }, el("button", { type: "button", onclick: () => replay(d.id) }, t("replay")),
        el("a", { href: `/api/v1/incidents/${encodeURIComponent(d.id)}/report.html?lang=${lang()}`, target: "_blank" }, t("report"))),
      el("div", { id: "replay" })),
    el("div", {},
      el("h3", {}, `${label(CAUSES, d.cause)} · ${d.id}`),
      el("dl", { class: "facts" },
        el("dt", {}, t("state")), el("dd", { id: "detail-state" }, label(STATES, d.state)),
        el("dt", {}, t("severity")), el("dd", {}, String(d.severity)),
        el("dt", {}, t("source")), el("dd", {}, `${d.source_segment}${d.source_position_m !== null ? " · " + Math.round(d.source_position_m) + " m" : ""}`),
        el("dt", {}, t("affected")), el("dd", {}, d.camera_ids.join(", ")),
        el("dt", {}, t("lanesBlocked")), el("dd", {}, String(d.lanes_blocked)),
        el("dt", {}, t("started")), el("dd", {}, dateTime(d.started_at)),
        el("dt", {}, t("detected")), el("dd", {}, dateTime(d.detected_at))),
      el("div", { class: "actions", id: "actions" }, actions),
      el("h3", {}, t("timeline")),
      el("ol", { class: "timeline", id: "timeline" }, timeline.map((x) =>
        el("li", {}, el("span", { class: "when" }, clock(x.at)), el("span", {}, `${x.who === "engine" ? "" : x.who + ": "}${x.what}`))))));
  document.getElementById("detail").replaceChildren(node);
}

// The form an action needs: a reason, who is sent, which departments, a note.
function ask(d, action) {
  return new Promise((resolve) => {
    const dialog = el("dialog", { id: "action-dialog" });
    const fields = [];
    const form = el("form", { method: "dialog" }, el("h3", {}, label(ACTIONS, action)));
    if (action === "dismiss") fields.push(["reason", el("input", { name: "reason", required: true })]);
    if (action === "dispatch") fields.push(["unit", el("input", { name: "unit", required: true })]);
    if (action === "report") {
      const boxes = el("div", { class: "actions" });
      (state.departments || []).forEach((dept) => boxes.append(el("label", {},
        el("input", { type: "checkbox", name: "departments", value: dept.code,
          checked: d.suggested_departments.includes(dept.code) }), lang() === "en" ? dept.name_en : dept.name_zh)));
      fields.push(["departments", boxes]);
    }
    fields.push(["note", el("textarea", { name: "note", rows: 2, required: action === "note" })]);
    for (const [key, input] of fields) form.append(el("label", {}, t(key), input));
    form.append(el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", value: "ok" }, t("send")),
      el("button", { type: "button", onclick: () => { dialog.close(); resolve(null); } }, t("cancel"))));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(form);
      dialog.close();
      dialog.remove();
      resolve({ note: data.get("note") || "", reason: data.get("reason") || "", unit: data.get("unit") || "",
        departments: data.getAll("departments") });
    });
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
  });
}

async function act(d, action) {
  const simple = ["acknowledge", "confirm", "arrive", "clear", "close", "reopen"].includes(action);
  const body = simple ? { note: "" } : await ask(d, action);
  if (!body) return;
  try {
    const detail = await api(`/api/v1/incidents/${encodeURIComponent(d.id)}/actions`, { method: "POST", json: { action, ...body } });
    showDetail(detail);
    state.incidents.set(detail.id, detail);
    renderQueue();
  } catch (err) {
    banner(`${t("error")}: ${err.message}`);
    setTimeout(() => banner(""), 6000);
  }
}

// The replay: speed along the road over the incident's time, and a slider through it.
async function replay(id) {
  const data = await api(`/api/v1/incidents/${encodeURIComponent(id)}/spread`);
  const host = document.getElementById("replay");
  const canvas = el("canvas", { class: "spacetime", width: 900, height: 260, id: "spacetime" });
  const slider = el("input", { type: "range", min: 0, max: 100, value: 100, style: "width:100%" });
  const caption = el("p", { class: "help" });
  host.replaceChildren(canvas, slider, caption);
  const t0 = new Date(data.since).getTime(); const t1 = new Date(data.until).getTime();
  const cams = data.cameras;
  const ctx = canvas.getContext("2d");
  const colour = (v) => (v === undefined ? "#111" : v > 40 ? LEVEL_COLOURS[0] : v > 30 ? LEVEL_COLOURS[1] : v > 20 ? LEVEL_COLOURS[2] : v > 15 ? LEVEL_COLOURS[3] : LEVEL_COLOURS[4]);
  const draw = (upto) => {
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    const rowH = (canvas.height - 20) / Math.max(cams.length, 1);
    cams.forEach((cam, r) => {
      ctx.fillStyle = "#8fa3b8"; ctx.font = "11px sans-serif"; ctx.fillText(cam.id, 2, 14 + (cams.length - 1 - r) * rowH + rowH / 2);
      for (const [at, speed] of cam.speeds) {
        const x = new Date(at).getTime();
        if (x > upto) continue;
        const px = 40 + ((x - t0) / (t1 - t0)) * (canvas.width - 50);
        ctx.fillStyle = colour(speed);
        ctx.fillRect(px, 10 + (cams.length - 1 - r) * rowH, Math.max(((60000) / (t1 - t0)) * (canvas.width - 50), 2), rowH - 2);
      }
    });
  };
  const update = () => { const upto = t0 + (t1 - t0) * (slider.value / 100); draw(upto); caption.textContent = `${clock(new Date(upto).toISOString())} · ${cams.map((c) => c.id).join(" → ")}`; };
  slider.addEventListener("input", update);
  update();
  state.replay = { data };
}

// -- cameras, health, KPIs -------------------------------------------------------------------------

function renderCameraList() {
  const cams = state.network?.cameras || [];
  document.getElementById("cam-list").replaceChildren(...cams.map((c) => el("button", { type: "button",
    "aria-current": state.camera === c.id ? "true" : "false", onclick: () => showCamera(c.id) }, `${c.id} · ${c.name}`)));
}

async function showCamera(id) {
  state.camera = id;
  renderCameraList();
  const cam = state.network.cameras.find((c) => c.id === id);
  const img = el("img", { class: "liveview", id: "liveview", alt: t("noLive") });
  const charts = el("div", { class: "charts" });
  document.getElementById("cam-view").replaceChildren(el("h2", {}, `${t("live")} · ${cam.name}`), img, charts);
  const refresh = () => { if (state.camera === id && state.view === "cameras") img.src = `/api/v1/cameras/${encodeURIComponent(id)}/frame.jpg?t=${Date.now()}`; };
  refresh();
  clearInterval(state.liveTimer);
  state.liveTimer = setInterval(refresh, 1000);
  const [rows, usual] = await Promise.all([api(`/api/v1/cameras/${encodeURIComponent(id)}/states`), api(`/api/v1/cameras/${encodeURIComponent(id)}/baseline`)]);
  const lanes = [...new Set(rows.map((r) => r.lane_id))];
  for (const [key, unit] of [["speed_kmh", t("km")], ["flow_vph", t("vph")], ["occupancy_pct", "%"]]) {
    const at = (r) => new Date(r.window_start).getTime(); // one instant, however it is written
    const times = [...new Set(rows.map(at))].sort((a, b) => a - b);
    const xs = times.map((x) => x / 1000);
    const series = [{}]; const data = [xs];
    lanes.forEach((lane, k) => {
      const by = new Map(rows.filter((r) => r.lane_id === lane).map((r) => [at(r), r[key]]));
      const base = new Map(usual.filter((r) => r.lane_id === lane).map((r) => [at(r), r[key]]));
      data.push(times.map((x) => by.get(x) ?? null)); series.push({ label: lane, stroke: ["#3ea6ff", "#f28c28", "#8bc34a", "#c58af9"][k % 4], width: 2 });
      data.push(times.map((x) => base.get(x) ?? null)); series.push({ label: `${lane} ${t("usual")}`, stroke: "#8fa3b8", dash: [5, 4], width: 1 });
    });
    const box = el("div", {});
    charts.append(el("h3", {}, `${t(key === "speed_kmh" ? "speed" : key === "flow_vph" ? "flow" : "occupancy")} (${unit})`), box);
    if (window.uPlot && xs.length) new window.uPlot({ width: Math.min(charts.clientWidth || 800, 900), height: 180, series, tzDate,
      axes: [{ stroke: "#8fa3b8" }, { stroke: "#8fa3b8" }], scales: { x: { time: true } } }, data, box);
  }
}

async function renderHealth() {
  let health;
  try { health = await api("/healthz"); } catch (err) { banner(err.message); return; }
  const rows = health.cameras.map((c) => el("tr", { class: c.stale ? "stale" : "", "data-camera": c.camera_id },
    el("td", {}, c.camera_id), el("td", {}, c.stale ? `${c.state} · ${t("stale")}` : c.state),
    el("td", { class: "num" }, c.fps_in.toFixed(1)), el("td", { class: "num" }, c.fps_out.toFixed(1)),
    el("td", { class: "num" }, String(c.dropped)), el("td", { class: "num" }, String(c.reconnects)),
    el("td", { class: "num" }, `${(c.lag_s * 1000).toFixed(0)} ms`),
    el("td", { class: "num" }, c.last_frame_age_s === null ? "—" : `${duration(c.last_frame_age_s)} ${t("ago")}`)));
  document.getElementById("health").replaceChildren(
    el("p", {}, `DB ${health.database ? t("ok") : "✗"} · MQTT ${health.mqtt === null ? "—" : health.mqtt ? t("ok") : "✗"} · outbox ${health.outbox_pending} · ${health.terminals} terminals`),
    el("table", { class: "data", id: "health-table" }, el("tr", {}, ...["camera", "stream", "fpsIn", "fpsOut", "drops", "reconnects", "lag", "lastFrame"].map((k) => el("th", {}, t(k)))), ...rows));
}

async function renderKpis(days = 7) {
  const until = new Date(); const since = new Date(until.getTime() - days * 86400000);
  const k = await api(`/api/v1/kpis?since=${encodeURIComponent(since.toISOString())}&until=${encodeURIComponent(until.toISOString())}`);
  const tiles = ["time_to_detect_s", "time_to_alert_s", "time_to_acknowledge_s", "time_to_dispatch_s", "time_to_arrive_s", "roadway_clearance_s", "incident_clearance_s", "abnormal_congestion_s"]
    .map((key) => el("div", { class: "tile" }, el("div", { class: "v" }, duration(k.measures[key].median)),
      el("div", { class: "k" }, `${t(key)} · ${t("median")} (${t("p90")} ${duration(k.measures[key].p90)}, n=${k.measures[key].n})`)));
  const causes = [...new Set(Object.values(k.per_day).flatMap((c) => Object.keys(c)))];
  const days_ = Object.keys(k.per_day);
  const chart = el("div", { id: "per-day" });
  const fa = Object.entries(k.false_alarms).map(([cam, v]) => el("tr", {}, el("td", {}, cam), el("td", { class: "num" }, String(v.dismissed)),
    el("td", { class: "num" }, v.camera_days.toFixed(2)), el("td", { class: "num" }, v.per_camera_day === null ? "—" : v.per_camera_day.toFixed(2))));
  document.getElementById("kpis").replaceChildren(
    el("div", { class: "actions" }, el("button", { type: "button", onclick: () => renderKpis(1) }, t("last1")), el("button", { type: "button", onclick: () => renderKpis(7) }, t("last7"))),
    el("p", {}, `${t("incidents")} ${k.incidents} · ${t("alerted")} ${k.alerted}`), el("div", { class: "tiles" }, tiles),
    el("h3", {}, t("perDay")), chart,
    el("h3", {}, t("falseAlarms")), el("table", { class: "data" }, el("tr", {}, ...["camera", "dismissed", "cameraDays", "rate"].map((x) => el("th", {}, t(x)))), ...fa));
  if (window.uPlot && days_.length) {
    const xs = days_.map((d) => new Date(d).getTime() / 1000);
    const bars = window.uPlot.paths.bars({ size: [0.6, 40] });
    new window.uPlot({ width: 700, height: 200, tzDate, scales: { x: { time: true } }, axes: [{ stroke: "#8fa3b8" }, { stroke: "#8fa3b8" }],
      series: [{}, ...causes.map((c, i) => ({ label: label(CAUSES, c), stroke: LEVEL_COLOURS[(i + 2) % 5], fill: LEVEL_COLOURS[(i + 2) % 5], paths: bars }))] },
    [xs, ...causes.map((c) => days_.map((d) => k.per_day[d][c] || 0))], chart);
  }
}

// -- tabs, keys, language --------------------------------------------------------------------------

function show(view) {
  state.view = view;
  for (const tab of document.querySelectorAll("nav.tabs button")) tab.setAttribute("aria-selected", tab.dataset.view === view ? "true" : "false");
  for (const section of document.querySelectorAll(".view")) section.classList.toggle("active", section.id === `view-${view}`);
  if (view === "cameras") { renderCameraList(); if (!state.camera && state.network?.cameras.length) showCamera(state.network.cameras[0].id); }
  if (view === "health") renderHealth();
  if (view === "kpis") renderKpis();
}

for (const tab of document.querySelectorAll("nav.tabs button")) tab.addEventListener("click", () => show(tab.dataset.view));
document.getElementById("lang").addEventListener("click", () => { setLang(lang() === "en" ? "zh" : "en"); words(); renderQueue(); renderMap(); if (state.detail) showDetail(state.detail); });
document.getElementById("logout").addEventListener("click", async () => { await api("/api/v1/auth/logout", { method: "POST" }).catch(() => null); location.reload(); });
document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select, dialog")) return;
  const items = ordered();
  const at = items.findIndex((i) => i.id === state.selected);
  const key = event.key;
  if (key === "j" || key === "ArrowDown") { const next = items[Math.min(at + 1, items.length - 1)]; if (next) openIncident(next.id); }
  else if (key === "k" || key === "ArrowUp") { const prev = items[Math.max(at - 1, 0)]; if (prev) openIncident(prev.id); }
  else if (["1", "2", "3", "4"].includes(key)) show(["map", "cameras", "health", "kpis"][Number(key) - 1]);
  else if (key === "L") document.getElementById("lang").click();
  else if (state.detail) {
    const action = { a: "acknowledge", c: "confirm", d: "dispatch", x: "dismiss" }[key];
    if (action && state.detail.actions.includes(action)) act(state.detail, action);
  }
});

api("/api/v1/departments", { noLogin: true }).then((d) => { state.departments = d; }).catch(() => null);
window.yingyan = state; // for the wall screen's operators and for tests: what the page holds
start().then(() => api("/api/v1/departments").then((d) => { state.departments = d; }).catch(() => null));
