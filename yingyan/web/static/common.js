// Yingyan (鹰眼) pages: what the console and the terminal share — words in two languages, the API,
// the live channel, times and labels. No framework and no build step: served as is by Yingyan.

export const WORDS = {
  zh: {
    console: "鹰眼 · 指挥中心", terminal: "鹰眼 · 执勤终端", login: "登录", logout: "退出", username: "用户名",
    password: "密码", wrongPassword: "用户名或密码错误", tooMany: "登录失败次数过多，请稍后再试",
    sessionExpired: "登录已过期，请重新登录（当前页面内容会保留）", connected: "已连接", reconnecting: "连接中断，正在重连…",
    offline: "网络中断：操作会在恢复后自动提交", replaced: "此终端已在其他窗口打开", map: "态势", cameras: "摄像机", health: "健康", kpis: "统计",
    queue: "事件队列", noIncidents: "暂无事件", detail: "事件详情", chooseIncident: "选择一个事件查看详情",
    timeline: "时间线", steps: "处置记录", evidence: "证据", affected: "涉及卡口", source: "源头", cause: "原因",
    severity: "严重程度", state: "状态", started: "发生", detected: "发现", lanesBlocked: "占用车道",
    dispatchDue: "派警时限", overdue: "已超时", report: "报告", replay: "回放蔓延", note: "备注", reason: "原因",
    unit: "派出警力", departments: "通报部门", send: "提交", cancel: "取消", live: "实时画面", speed: "速度",
    flow: "流量", occupancy: "占有率", usual: "常态", stream: "视频流", fpsIn: "输入帧率", fpsOut: "分析帧率",
    drops: "丢帧", reconnects: "重连", lag: "延迟", lastFrame: "最后一帧", stale: "停滞", ok: "正常",
    perDay: "每日事件（按原因）", falseAlarms: "误报（每摄像机每天）", measure: "指标", median: "中位数",
    p90: "90 分位", camera: "摄像机", dismissed: "驳回", cameraDays: "监测天数", rate: "每天", period: "时段",
    last7: "最近 7 天", last1: "最近 24 小时", help: "快捷键：j/k 选择 · a 签收 · c 确认 · d 派警 · x 驳回 · 1–4 切换页面 · L 语言",
    newAlert: "新警情", where: "位置", what: "事件", photo: "拍照上传", pending: "待提交", photoSent: "照片已上传",
    nothingHere: "没有待处理的警情", ago: "前", seconds: "秒", minutes: "分", hours: "小时", language: "English",
    at: "于", km: "公里/小时", vph: "辆/小时", loading: "加载中…", error: "出错", noLive: "暂无实时画面",
  },
  en: {
    console: "Yingyan · Command centre", terminal: "Yingyan · Officer terminal", login: "Log in", logout: "Log out",
    username: "User name", password: "Password", wrongPassword: "Wrong user name or password",
    tooMany: "Too many failed logins: try again later",
    sessionExpired: "Your session expired: log in again (this page keeps what you were doing)",
    connected: "Connected", reconnecting: "Connection lost, reconnecting…",
    offline: "Network lost: actions are sent when it is back", replaced: "This terminal is open in another window", map: "Network", cameras: "Cameras", health: "Health",
    kpis: "KPIs", queue: "Incident queue", noIncidents: "No incidents", detail: "Incident",
    chooseIncident: "Choose an incident to see it", timeline: "Timeline", steps: "Actions", evidence: "Evidence",
    affected: "Checkpoints affected", source: "Source", cause: "Cause", severity: "Severity", state: "State",
    started: "Started", detected: "Detected", lanesBlocked: "Lanes blocked", dispatchDue: "Dispatch due",
    overdue: "overdue", report: "Report", replay: "Replay the spread", note: "Note", reason: "Reason",
    unit: "Unit sent", departments: "Departments", send: "Send", cancel: "Cancel", live: "Live view", speed: "Speed",
    flow: "Flow", occupancy: "Occupancy", usual: "usual", stream: "Stream", fpsIn: "fps in", fpsOut: "fps out",
    drops: "Dropped", reconnects: "Reconnects", lag: "Lag", lastFrame: "Last frame", stale: "stale", ok: "ok",
    perDay: "Incidents per day, by cause", falseAlarms: "False alarms per camera-day", measure: "Measure",
    median: "median", p90: "p90", camera: "Camera", dismissed: "Dismissed", cameraDays: "Camera-days", rate: "per day",
    period: "Period", last7: "last 7 days", last1: "last 24 hours",
    help: "Keys: j/k select · a acknowledge · c confirm · d dispatch · x dismiss · 1–4 pages · L language",
    newAlert: "New alert", where: "Where", what: "What", photo: "Send a photo", pending: "to send",
    photoSent: "Photo sent", nothingHere: "No alerts to handle", ago: "ago", seconds: "s", minutes: "min",
    hours: "h", language: "中文", at: "at", km: "km/h", vph: "veh/h", loading: "Loading…", error: "Error",
    noLive: "No live view", time_to_detect_s: "Time to detect", time_to_alert_s: "Time to alert",
    time_to_acknowledge_s: "Time to acknowledge", time_to_dispatch_s: "Time to dispatch",
    time_to_arrive_s: "Time to arrive", roadway_clearance_s: "Roadway clearance",
    incident_clearance_s: "Incident clearance", abnormal_congestion_s: "Abnormal congestion", incidents: "Incidents",
    alerted: "alerted",
  },
};

export const CAUSES = {
  zh: { stopped_vehicle: "停车", crash: "交通事故", illegal_parking: "违停", wrong_way: "逆行", pedestrian: "行人",
        lane_blocked: "占道", blockage: "道路阻断", recurrent: "常发拥堵", congestion: "拥堵" },
  en: { stopped_vehicle: "Stopped vehicle", crash: "Crash", illegal_parking: "Illegal parking", wrong_way: "Wrong way",
        pedestrian: "Pedestrian", lane_blocked: "Lane blocked", blockage: "Blockage", recurrent: "Recurrent congestion", congestion: "Congestion" },
};

export const STATES = {
  zh: { detected: "已发现", alerted: "已报警", acknowledged: "已签收", confirmed: "已确认", dismissed: "已驳回",
        dispatched: "已派警", on_scene: "已到场", cleared: "已清除", reported: "已通报", closed: "已结案" },
  en: { detected: "detected", alerted: "alerted", acknowledged: "acknowledged", confirmed: "confirmed",
        dismissed: "dismissed", dispatched: "dispatched", on_scene: "on scene", cleared: "cleared",
        reported: "reported", closed: "closed" },
};

export const ACTIONS = {
  zh: { detect: "发现", alert: "报警", acknowledge: "签收", confirm: "确认", dismiss: "驳回（误报）", dispatch: "派警", arrive: "到场", clear: "已清除",
        report: "通报部门", close: "结案", reopen: "重新打开", note: "备注" },
  en: { detect: "Detected", alert: "Alerted", acknowledge: "Acknowledge", confirm: "Confirm", dismiss: "Dismiss (false alarm)", dispatch: "Dispatch",
        arrive: "On scene", clear: "Cleared", report: "Report", close: "Close", reopen: "Reopen", note: "Note" },
};

export const LEVEL_COLOURS = ["#2e9d4f", "#8bc34a", "#f2c037", "#f28c28", "#d93025"];
export const LEVEL_NAMES = {
  zh: ["畅通", "基本畅通", "轻度拥堵", "中度拥堵", "严重拥堵"],
  en: ["free", "mostly free", "light congestion", "moderate congestion", "severe congestion"],
};

export function lang() {
  return localStorage.getItem("yingyan.lang") === "en" ? "en" : "zh";
}

export function setLang(value) {
  localStorage.setItem("yingyan.lang", value);
  document.documentElement.lang = value === "en" ? "en" : "zh-CN";
}

export function t(key) {
  return WORDS[lang()][key] ?? key;
}

export function label(table, key) {
  return table[lang()][key] ?? key;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- the API, with a login that keeps the page ---------------------------------------------------

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

let loginWaiters = null;

export function onLoginNeeded(show) {
  loginHandler = show;
}
let loginHandler = null;

async function needLogin(expired) {
  if (!loginWaiters) {
    loginWaiters = new Promise((resolve) => {
      if (loginHandler) loginHandler(expired, resolve);
    }).finally(() => { loginWaiters = null; });
  }
  return loginWaiters;
}

export async function api(path, options = {}) {
  const init = { method: options.method || "GET", credentials: "same-origin", headers: {} };
  if (options.json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
  } else if (options.form !== undefined) {
    init.body = options.form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, t("offline"));
  }
  if (response.status === 401 && !options.noLogin) {
    await needLogin(true);
    return api(path, { ...options, noLogin: true });
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export async function login(username, password) {
  const response = await fetch("/api/v1/auth/login", {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (response.status === 429) throw new ApiError(429, t("tooMany"));
  if (!response.ok) throw new ApiError(response.status, t("wrongPassword"));
  return response.json();
}

// A login dialog over the page: the page underneath keeps its state.
export function installLogin(onDone) {
  const dialog = el("dialog", { id: "login", class: "login" });
  const message = el("p", { class: "login-message" });
  const user = el("input", { id: "login-user", autocomplete: "username", required: true });
  const pass = el("input", { id: "login-password", type: "password", autocomplete: "current-password", required: true });
  const error = el("p", { class: "login-error", role: "alert" });
  const button = el("button", { id: "login-submit", type: "submit", class: "primary" });
  const form = el("form", { method: "dialog" }, message, el("label", {}, el("span", { class: "l-user" }), user),
    el("label", {}, el("span", { class: "l-pass" }), pass), error, button);
  dialog.append(form);
  document.body.append(dialog);
  let resolveWaiting = null;
  const words = () => {
    form.querySelector(".l-user").textContent = t("username");
    form.querySelector(".l-pass").textContent = t("password");
    button.textContent = t("login");
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const session = await login(user.value.trim(), pass.value);
      pass.value = "";
      dialog.close();
      if (resolveWaiting) { resolveWaiting(session); resolveWaiting = null; }
      onDone(session);
    } catch (err) {
      error.textContent = err.message;
      pass.select();
    }
  });
  dialog.addEventListener("cancel", (event) => event.preventDefault()); // no way round the login
  onLoginNeeded((expired, resolve) => {
    words();
    message.textContent = expired ? t("sessionExpired") : "";
    resolveWaiting = resolve;
    if (!dialog.open) dialog.showModal();
    user.focus();
  });
  return { open: (expired = false) => needLogin(expired), words };
}

// -- the live channel --------------------------------------------------------------------------

// A terminal's id is this browser's, for one user: two users of one phone are two terminals.
export function terminalId(kind, user) {
  const key = `yingyan.terminal.${kind}.${user}`;
  let id = localStorage.getItem(key);
  if (!id) {
    id = `${kind}-${Math.random().toString(36).slice(2, 10)}`;
    localStorage.setItem(key, id);
  }
  return id;
}

// The terminal socket: hello with the session cookie (and the alerts this page holds already, so
// that none is sent twice), alerts in (receipts out), reconnects for ever; a login that ended
// (4401) asks for a new one, and another window of the same terminal (4409) ends this one's.
export class Live {
  constructor({ kind, user, incidents = false, have, onAlerts, onIncident, onEscalation, onStatus, onAuthFailed, onReplaced }) {
    Object.assign(this, { kind, user, incidents, have, onAlerts, onIncident, onEscalation, onStatus, onAuthFailed, onReplaced });
    this.delay = 1000;
    this.socket = null;
    this.closed = false;
  }

  start() {
    this.closed = false;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/terminal`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      const have = this.have ? this.have().slice(0, 500) : [];
      socket.send(JSON.stringify({ type: "hello", terminal_id: terminalId(this.kind, this.user), incidents: this.incidents, have }));
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "welcome") {
        this.delay = 1000;
        this.onStatus?.(true);
      } else if (message.type === "alerts") {
        socket.send(JSON.stringify({ type: "received", alert_ids: message.alerts.map((a) => a.alert_id) }));
        this.onAlerts?.(message.alerts);
      } else if (message.type === "incident") {
        this.onIncident?.(message.incident);
      } else if (message.type === "escalation") {
        this.onEscalation?.(message.alert);
      } else if (message.type === "error") {
        this.lastError = message.detail;
      }
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return; // an old socket of a stopped or restarted channel
      this.onStatus?.(false);
      if (this.closed) return;
      if (event.code === 4401) {
        this.onAuthFailed?.();
        return;
      }
      if (event.code === 4409) {
        this.closed = true;
        this.onReplaced?.(event.reason || this.lastError || "");
        return;
      }
      setTimeout(() => { if (!this.closed) this.start(); }, this.delay);
      this.delay = Math.min(this.delay * 2, 30000);
    });
  }

  // Connect unless connected or connecting (after a login: the socket of the ended one was closed).
  ensure() {
    if (!this.socket || this.socket.readyState > WebSocket.OPEN) this.start();
  }

  stop() {
    this.closed = true;
    this.socket?.close();
  }
}

// -- times and numbers ---------------------------------------------------------------------------

let zone = "Asia/Shanghai";
export function setZone(value) { zone = value || zone; }
export function siteZone() { return zone; }

export function clock(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(lang() === "en" ? "en-GB" : "zh-CN", {
    timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(new Date(iso));
}

export function dateTime(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(lang() === "en" ? "en-GB" : "zh-CN", {
    timeZone: zone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(new Date(iso));
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.round(Math.abs(seconds));
  if (s < 60) return `${s} ${t("seconds")}`;
  if (s < 3600) return `${Math.floor(s / 60)} ${t("minutes")} ${String(s % 60).padStart(2, "0")} ${t("seconds")}`;
  return `${Math.floor(s / 3600)} ${t("hours")} ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} ${t("minutes")}`;
}

export function since(iso) {
  return iso ? (Date.now() - new Date(iso).getTime()) / 1000 : null;
}

// An alarm the ear notices: three short tones (WebAudio: no sound file to load).
let audio = null;
export function alarm() {
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (let k = 0; k < 3; k++) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = k % 2 ? 660 : 880;
      gain.gain.setValueAtTime(0.25, now + k * 0.25);
      gain.gain.exponentialRampToValueAtTime(0.001, now + k * 0.25 + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + k * 0.25);
      osc.stop(now + k * 0.25 + 0.22);
    }
  } catch (_) { /* no sound device */ }
  if (navigator.vibrate) navigator.vibrate([300, 120, 300, 120, 300]);
}
