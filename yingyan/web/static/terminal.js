// The officer's terminal: the push arrives with sound and vibration, says where, what, and shows the
// snapshot; acknowledge, confirm, on scene, cleared, a note or a photo with one tap. Through short
// network drops it keeps going: actions wait in the phone and are sent when the network is back,
// and the service sends what was missed when the socket reconnects.
import { ACTIONS, CAUSES, Live, STATES, alarm, api, clock, el, installLogin, label, lang, setLang, t } from "/static/common.js";

const QUICK = ["acknowledge", "confirm", "arrive", "clear"];
// What the phone keeps is kept per user: another officer logging in on it sees none of it, and
// actions queued offline are only ever sent under the login of the officer who tapped them.
const store = { user: null, alerts: [], pending: [], details: new Map() };
const loginBox = installLogin(() => start());
setLang(lang());
localStorage.removeItem("yingyan.alerts"); // kept unscoped by earlier versions: nobody's to show
localStorage.removeItem("yingyan.pending");

function load(user) {
  store.user = user;
  store.alerts = JSON.parse(localStorage.getItem(`yingyan.alerts.${user}`) || "[]");
  store.pending = JSON.parse(localStorage.getItem(`yingyan.pending.${user}`) || "[]");
  store.details = new Map();
}

function save() {
  if (!store.user) return;
  localStorage.setItem(`yingyan.alerts.${store.user}`, JSON.stringify(store.alerts.slice(0, 50)));
  localStorage.setItem(`yingyan.pending.${store.user}`, JSON.stringify(store.pending));
}

function banner(text) {
  const node = document.getElementById("banner");
  node.textContent = text || "";
  node.classList.toggle("show", Boolean(text));
}

function words() {
  document.getElementById("title").textContent = t("terminal");
  document.title = t("terminal");
  document.getElementById("lang").textContent = t("language");
  loginBox.words();
}

async function start() {
  let me;
  try { me = await api("/api/v1/me", { noLogin: true }); } catch (err) {
    if (err.status === 401) loginBox.open(false); else banner(err.message);
    return;
  }
  words();
  document.getElementById("who").textContent = `${me.username} · ${me.districts.join(", ")}`;
  if (store.user !== me.username) {
    store.live?.stop();
    store.live = null;
    load(me.username);
  }
  render();
  for (const a of store.alerts) refresh(a.incident_id);
  if (!store.live) {
    store.live = new Live({
      kind: "terminal", user: me.username,
      have: () => store.alerts.map((a) => a.alert_id),
      onAlerts: (alerts) => arrived(alerts),
      onStatus: (up) => { const c = document.getElementById("conn"); c.classList.toggle("up", up);
        c.textContent = up ? t("connected") : t("reconnecting"); banner(up ? "" : t("offline")); if (up) flush(); },
      onAuthFailed: () => loginBox.open(true),
      onReplaced: () => banner(t("replaced")),
    });
  }
  store.live.ensure();
  if (!store.timer) {
    store.timer = setInterval(flush, 5000);
    window.addEventListener("online", () => { banner(""); flush(); });
    window.addEventListener("offline", () => banner(t("offline")));
  }
}

function arrived(alerts) {
  let fresh = false;
  for (const alert of alerts) {
    if (store.alerts.some((a) => a.alert_id === alert.alert_id)) continue; // the same alert twice: once
    store.alerts.unshift({ ...alert, arrived_at: new Date().toISOString(), arrived_epoch: Date.now() / 1000, fresh: true });
    fresh = true;
    refresh(alert.incident_id);
  }
  if (fresh) {
    save();
    render();
    alarm();
    if ("Notification" in window && Notification.permission === "granted") {
      new Notification(t("newAlert"), { body: `${label(CAUSES, alerts[0].cause)} · ${alerts[0].camera_name}` });
    }
  }
}

async function refresh(incidentId) {
  try {
    store.details.set(incidentId, await api(`/api/v1/incidents/${encodeURIComponent(incidentId)}`));
    render();
  } catch (err) { if (err.status === 404) { store.alerts = store.alerts.filter((a) => a.incident_id !== incidentId); save(); render(); } }
}

function render() {
  const host = document.getElementById("alerts");
  document.getElementById("pending").textContent = store.pending.length ? `${store.pending.length} ${t("pending")}` : "";
  if (!store.alerts.length) { host.replaceChildren(el("p", { class: "help" }, t("nothingHere"))); return; }
  host.replaceChildren(...store.alerts.map((a) => {
    const d = store.details.get(a.incident_id);
    const stateName = d ? d.state : "alerted";
    const done = ["cleared", "reported", "closed", "dismissed"].includes(stateName);
    const snapshot = d?.evidence.find((e) => e.kind === "snapshot" && e.status === "stored");
    const waiting = store.pending.filter((p) => p.incident_id === a.incident_id).map((p) => p.action);
    const allowed = d ? d.actions : [];
    const buttons = QUICK.filter((x) => allowed.includes(x) && !waiting.includes(x)).map((x) =>
      el("button", { type: "button", class: x === "acknowledge" || x === "confirm" ? "primary" : "", "data-action": x,
        onclick: () => act(a.incident_id, x) }, label(ACTIONS, x)));
    if (allowed.includes("note")) {
      buttons.push(el("button", { type: "button", "data-action": "note", onclick: () => note(a.incident_id) }, t("note")));
      const file = el("input", { type: "file", accept: "image/*", capture: "environment", style: "display:none",
        onchange: (e) => photo(a.incident_id, e.target.files[0]) });
      buttons.push(el("button", { type: "button", "data-action": "photo", onclick: () => file.click() }, t("photo")), file);
    }
    const card = el("article", { class: `card sev${a.severity}${done ? " done" : ""}${a.fresh ? " fresh" : ""}`,
      "data-alert": a.alert_id, "data-incident": a.incident_id },
      el("h2", {}, `${label(CAUSES, a.cause)}`),
      el("p", {}, el("strong", {}, `${t("where")}: `), `${a.camera_name || a.camera_id} · ${a.segment}${a.position_m !== null ? " · " + Math.round(a.position_m) + " m" : ""}`),
      el("p", {}, `${t("detected")} ${clock(a.decided_at)} · ${t("state")}: `, el("span", { class: "badge state" }, label(STATES, stateName)),
        waiting.length ? el("span", { class: "pending" }, ` · ${waiting.map((x) => label(ACTIONS, x)).join(", ")} ${t("pending")}`) : null),
      snapshot ? el("img", { src: snapshot.url, alt: "snapshot" }) : null,
      el("div", { class: "buttons" }, buttons));
    a.fresh = false;
    return card;
  }));
}

// An action goes into the queue at once (so a tap is never lost), then to the service.
function act(incidentId, action, note = "") {
  store.pending.push({ incident_id: incidentId, action, note, at: new Date().toISOString() });
  save();
  render();
  flush();
}

function note(incidentId) {
  const text = prompt(t("note"));
  if (text && text.trim()) act(incidentId, "note", text.trim());
}

async function photo(incidentId, file) {
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  form.append("note", t("photo"));
  try {
    await api(`/api/v1/incidents/${encodeURIComponent(incidentId)}/photos`, { method: "POST", form });
    banner(t("photoSent"));
    setTimeout(() => banner(""), 3000);
  } catch (err) { banner(`${t("error")}: ${err.message}`); }
}

let flushing = false;
async function flush() {
  if (flushing || !store.pending.length) return;
  flushing = true;
  try {
    const user = store.user;
    while (store.pending.length && store.user === user) {
      const next = store.pending[0];
      try {
        // Never through the login dialog: a queued tap goes under its own officer's login or waits.
        const detail = await api(`/api/v1/incidents/${encodeURIComponent(next.incident_id)}/actions`,
          { method: "POST", json: { action: next.action, note: next.note || "" }, noLogin: true });
        store.details.set(next.incident_id, detail);
      } catch (err) {
        if (err.status === 0) { banner(t("offline")); break; } // still offline: try again later
        if (err.status === 401) { loginBox.open(true); break; } // the login ended: the queue waits for it
        banner(`${label(ACTIONS, next.action)}: ${err.message}`); // refused (someone else moved it on): drop it
        refresh(next.incident_id);
      }
      store.pending.shift();
      save();
    }
  } finally {
    flushing = false;
    render();
  }
}

document.getElementById("lang").addEventListener("click", () => { setLang(lang() === "en" ? "zh" : "en"); words(); render(); });
document.addEventListener("click", () => { if ("Notification" in window && Notification.permission === "default") Notification.requestPermission(); }, { once: true });
window.yingyan = store;
start();
