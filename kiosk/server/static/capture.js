// facescreen capture page: live guidance over the phone's camera (needs a secure origin), or a
// photo taken with the camera app as the fallback. Every sentence comes from the server's message
// table (/v1/messages), so the page and the kiosk say the same words.
"use strict";

const $ = (id) => document.getElementById(id);
const S = { token: sessionStorage.getItem("fs-token") || "", lang: "en", msg: {}, model: null,
            session: null, timer: null, busy: false, live: false, lastEvent: null };
const FRAME_MS = 350;       // one frame to the server every 350 ms while guiding
const FRAME_MAX_SIDE = 960; // frames are downscaled before upload
// each new instruction spoken once, in the page's language (speech.js; muted by the button over the video)
const speaker = new window.facescreenSpeaker();

function t(key, fields) {
  const s = S.msg[key] || key;
  return fields ? window.facescreenFormat(s, fields) : s;  // format.js: the tablet app's formatter too
}
function setState(state) { document.body.dataset.state = state; }
function show(id, on) { $(id).hidden = !on; }
function showError(text) { $("error").textContent = text; show("error", Boolean(text)); }

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (S.token) headers["Authorization"] = "Bearer " + S.token;
  let body = opts.body;
  if (opts.json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(opts.json); }
  const res = await fetch(path, { method: opts.method || "GET", headers, body });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((data && data.error && data.error.message) || ("HTTP " + res.status));
    err.status = res.status; err.body = data; throw err;
  }
  return data;
}

function applyTexts() {
  document.documentElement.lang = S.lang;
  document.documentElement.dir = t("text_direction") === "rtl" ? "rtl" : "ltr";  // Arabic lays out right to left
  $("ncu").textContent = t("not_for_clinical_use");
  $("take-photo").textContent = t("take_photo");
  $("retake").textContent = t("retake_button");
  $("consent").textContent = t("consent_button");
  $("consent-upload-label").textContent = t("consent_upload");
  $("token-label").textContent = t("token_prompt");
  $("result-title").textContent = t("result_title");
  childRefField.translate();
  speaker.labelMute($("mute"), t("mute_speech"));
  if (S.model && S.model.demo) { $("demo").textContent = t("demo_notice"); show("demo", true); }
}

async function loadMessages(lang) {
  const m = await api("/v1/messages?lang=" + encodeURIComponent(lang));
  S.lang = m.language; S.msg = m.messages;
  const sel = $("lang");
  if (!sel.options.length) for (const l of m.languages) sel.add(new Option(m.language_names[l], l));
  sel.value = S.lang;
  applyTexts();
}

function progress(streak, needed) {
  const p = $("progress"); p.innerHTML = "";
  for (let i = 0; i < needed; i++) { const d = document.createElement("span"); if (i < streak) d.className = "on"; p.appendChild(d); }
}

// --- the child's reference (kiosk/childref.py's format, from /v1/model) ------------------------
const ChildRef = window.facescreenChildRef;
const childRefField = ChildRef.field({ section: $("child"), video: $("video"), spec: () => S.model && S.model.child_ref, t });
const childRef = childRefField.current;

// `notSaved`: why the kiosk could not keep this result (a full disk); it is shown all the same, saying so
function showResult(result, camPng, recordId, ref, notSaved = null) {
  // the label is edge.result's REFER / NO_FLAG string, itself a key of the message table
  $("result").dataset.flag = String(result.flag);
  $("result").dataset.id = recordId || "";
  $("result-label").textContent = t(result.label);
  $("result-advice").textContent = t(result.flag ? "refer_advice" : "no_flag_advice");
  $("result-child").textContent = ref ? t("child_ref_line", { child_ref: ref }) : "";
  $("result-prob").textContent = t("probability", { probability: result.probability, threshold: result.threshold });
  $("result-model").textContent = t("model_line", { model_id: result.model.id, version: result.model.version }) +
    (result.not_for_clinical_use ? " - " + t("not_for_clinical_use") : "") + (S.model && S.model.demo ? " - " + t("demo_notice") : "");
  $("result-note").textContent = t("result_note");
  if (camPng) { $("cam").src = "data:image/png;base64," + camPng; show("cam", true); } else show("cam", false);
  if (recordId) {  // saved: the reference and an upload's consent were this child's, not the next one's
    $("consent-upload").checked = false;
    childRefField.clear();
  }
  $("result-saved").textContent = notSaved ? t("kiosk_store_failed") : "";
  show("result-saved", Boolean(notSaved));
  show("consent", S.live && !notSaved);   // with an upload, consent is given before sending; nothing kept, no photo to keep
  $("consent").disabled = false;
  $("consent").textContent = t("consent_button");
  show("live", false);       // the camera keeps running; the result takes the screen
  show("result", true);
  window.scrollTo(0, 0);
  setState("result");
}

// --- live guidance -----------------------------------------------------------------------------
async function startLive() {
  setState("camera");
  $("instruction").textContent = t("starting_camera");
  show("live", true);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } }, audio: false });
  } catch {
    show("live", false);
    return showUpload("no_camera");
  }
  const v = $("video"); v.srcObject = stream; await v.play().catch(() => {});
  show("scan-ref", ChildRef.canScan());  // scanning reads the live camera
  const s = await api("/v1/sessions", { method: "POST", json: { language: S.lang } });
  S.session = s.session_id; S.live = true;
  progress(0, s.needed);
  S.timer = setInterval(sendFrame, FRAME_MS);
}

async function sendFrame() {
  const v = $("video");
  if (S.busy || !v.videoWidth || document.body.dataset.state === "result") return;
  const ref = childRef();
  if (!ref.ok) { $("instruction").textContent = t("child_ref_invalid"); return; }
  S.busy = true;
  try {
    const k = Math.min(1, FRAME_MAX_SIDE / Math.max(v.videoWidth, v.videoHeight));
    const c = $("grab"); c.width = Math.round(v.videoWidth * k); c.height = Math.round(v.videoHeight * k);
    c.getContext("2d").drawImage(v, 0, 0, c.width, c.height);
    const blob = await new Promise((r) => c.toBlob(r, "image/jpeg", 0.85));
    const fd = new FormData(); fd.append("file", blob, "frame.jpg");
    if (ref.value) fd.append("child_ref", ref.value);  // the frame that completes the capture stores it
    const ev = await api(`/v1/sessions/${S.session}/frames`, { method: "POST", body: fd });
    S.lastEvent = ev;
    showError("");
    if (ev.event === "result") {
      speaker.forget();  // the next child's first instruction is new again
      $("instruction").textContent = t(ev.result.label);
      progress(ev.needed, ev.needed);
      const rec = ev.record || {};
      showResult(ev.result, ev.cam_png, rec.id, rec.child_ref, rec.not_saved);
    } else {
      $("instruction").textContent = ev.message_key ? t(ev.message_key) : "";
      if (ev.message_key) speaker.say(ev.message_key, t(ev.message_key));
      progress(ev.streak, ev.needed);
      setState(ev.event);
    }
  } catch (e) {
    if (e.status === 404) { clearInterval(S.timer); return startLive(); }  // the session timed out
    showError(e.message);
  } finally { S.busy = false; }
}

// --- the fallback: a photo from the camera app ------------------------------------------------
function showUpload(whyKey) {
  S.live = false;
  $("upload-why").textContent = t(whyKey);
  show("upload", true);
  setState("upload");
}

async function uploadPhoto(file) {
  const ref = childRef();
  if (!ref.ok) { childRefField.show(); $("file").value = ""; return; }
  const fd = new FormData();
  if (ref.value) fd.append("child_ref", ref.value);
  fd.append("file", file, file.name || "photo.jpg");
  fd.append("consent", $("consent-upload").checked ? "true" : "false");
  $("upload-status").textContent = t("screening");
  showError("");
  try {
    const r = await api("/v1/screen?lang=" + encodeURIComponent(S.lang), { method: "POST", body: fd });
    $("upload-status").textContent = "";
    show("upload", false);
    showResult(r.result, r.cam_png, r.id, r.child_ref);
  } catch (e) {
    $("upload-status").textContent = "";
    const unsaved = e.body && e.body.error && e.body.error.unsaved;
    if (unsaved) {  // screened, but the kiosk could not keep it (a full disk): the answer, saying so
      show("upload", false);
      showResult(unsaved.result, unsaved.cam_png, null, unsaved.child_ref, e.message);
      return;
    }
    const q = e.body && e.body.error && e.body.error.quality;
    showError(q && q.instruction ? `${t("quality_failed")}: ${t(q.instruction)}` : e.message);
    setState("upload");
  } finally { $("file").value = ""; }
}

async function retake() {
  show("result", false);
  showError("");
  if (S.live) {
    await api(`/v1/sessions/${S.session}/retake`, { method: "POST" }).catch((e) => showError(e.message));
    show("live", true);
    setState("guidance");
  } else {
    showUpload("take_photo");
  }
}

async function consent() {
  try {
    await api(`/v1/sessions/${S.session}/consent`, { method: "POST" });
    $("consent").disabled = true;
    $("consent").textContent = t("consent_recorded");
  } catch (e) { showError(e.message); }
}

async function start() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {  // #token=... never reaches server logs; keep it for this tab only
    S.token = hash.get("token"); sessionStorage.setItem("fs-token", S.token);
    history.replaceState(null, "", location.pathname + location.search);
  }
  const params = new URLSearchParams(location.search);
  // the browser's language when the catalogue has it (the kiosk resolves "es-MX" to "es"), else English
  try { await loadMessages(params.get("lang") || navigator.language || "en"); } catch { await loadMessages("en"); }
  try {
    S.model = await api("/v1/model");
  } catch (e) {
    if (e.status === 401) { show("token-box", true); setState("token"); return; }
    showError(e.message); setState("error"); return;
  }
  applyTexts();
  $("model").textContent = `${S.model.model_id} v${S.model.version}`;
  show("child", true);
  const canLive = window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  if (params.get("mode") === "upload" || !canLive) showUpload(canLive ? "take_photo" : "needs_secure_origin");
  else startLive();
}

$("token-ok").addEventListener("click", () => {
  S.token = $("token").value.trim(); sessionStorage.setItem("fs-token", S.token); show("token-box", false); start();
});
$("file").addEventListener("change", (e) => { if (e.target.files && e.target.files[0]) uploadPhoto(e.target.files[0]); });
$("retake").addEventListener("click", retake);
$("consent").addEventListener("click", consent);
$("lang").addEventListener("change", (e) => loadMessages(e.target.value));
speaker.bindMute($("mute"));
start().catch((e) => { showError(e.message); setState("error"); });
