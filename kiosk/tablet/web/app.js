// The tablet app: guided capture or a photo, screening on this device, results kept here and
// sent to a kiosk later. All wording comes from messages.json (kiosk/messages.py, one home).
import { Guide } from './core/guide.js';
import { jet, overlayCam } from './core/cam.js';
import { BrowserScreener, loadApp } from './core/screen.js';
import { browserLanguage } from './core/language.js';
import { openDb, makeRecord, addRecord, allRecords, counts, deleteRecords, syncAll, syncBody } from './core/store.js';

const $ = (id) => document.getElementById(id);
const Speaker = window.facescreenSpeaker;  // speech.js, the phone page's (one home, copied by the export)
const BASE = new URL('./', location.href);
const MAX_FRAME_SIDE = 640;     // guidance runs on a frame this size at most
// After a retake the same child is still in front of the camera, already placed: a capture within
// 0.8 s stored a result nobody meant. The next capture waits until the face has left the picture
// or this pause (state.retakePauseMs) has passed.
const RETAKE_PAUSE_MS = 3000;
// A tablet's clock may run a little behind the machine that exported the app (state.now: the app's one
// clock, which the tests set)
const CLOCK_SLACK_MS = 24 * 3600 * 1000;

const state = { speaker: new Speaker(), lang: 'en', messages: null, screener: null, db: null,
                tabletId: null, refused: [], refusedSaved: null, last: null, retakenAt: null, retakePauseMs: RETAKE_PAUSE_MS, noCameraKey: null, offline: null, update: null, persisted: undefined,
                now: () => new Date() };

const format = window.facescreenFormat;  // format.js, the phone page's (one home, copied by the export)

export function t(key, fields) {
  const table = state.messages[state.lang];
  if (!(key in table)) throw new Error(`message ${key} is missing from the ${state.lang} table`);
  return format(table[key], fields);
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.documentElement.dir = t('text_direction') === 'rtl' ? 'rtl' : 'ltr';  // Arabic lays out right to left
  $('lang').value = state.lang;
  for (const el of document.querySelectorAll('[data-msg]')) el.textContent = t(el.dataset.msg);
  childRefField.translate();
  state.speaker.labelMute($('mute'), t('mute_speech'));
  $('ncu').textContent = t('not_for_clinical_use');
  if (state.screener?.app.demo) { $('demo').hidden = false; $('demo').textContent = t('demo_notice'); }
  if (state.screener) $('model-line').textContent = t('model_line', { model_id: state.screener.card.model_id, version: state.screener.card.version });
  if (state.offline) showOffline();
  showStorageNote();
  showUpdate();
  if (state.noCameraKey) $('upload-why').textContent = t(state.noCameraKey);
  if (state.last) showResult(state.last.result, state.last.saved, state.last.notSaved);
  refreshCounts();
}

function setStatus(text) { $('status').textContent = text || ''; }

// ---- pixels ---------------------------------------------------------------------------------

function rgbOf(canvas) {
  const { width: w, height: h } = canvas;
  const rgba = canvas.getContext('2d', { willReadFrequently: true }).getImageData(0, 0, w, h).data;
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) { rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2]; }
  return { rgb, h, w };
}

function drawTo(source, sw, sh, maxSide = Infinity) {
  const k = Math.min(1, maxSide / Math.max(sw, sh));
  const c = document.createElement('canvas');
  c.width = Math.round(sw * k); c.height = Math.round(sh * k);
  c.getContext('2d').drawImage(source, 0, 0, c.width, c.height);
  return c;
}

async function jpegB64(canvas) {
  const blob = await new Promise((r) => canvas.toBlob(r, 'image/jpeg', 0.92));
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

// ---- screening and results --------------------------------------------------------------------

// A saved result closes its child's screening: the reference typed (or scanned) and the family's
// consent to keep the photo were that child's. Both stayed, and the next child (the camera captures
// by itself once a face is in front of it) was filed under the first child's reference, its photo
// kept on the first family's consent.
function nextChild() {
  $('consent').checked = false;
  childRefField.clear();
}

// Why this tablet's clock cannot date a result, or null. A clock behind the app's own making is wrong
// (a tablet whose battery ran flat wakes in 1970 or in its maker's year, and an offline one never
// corrects it): a result dated by it could never be sent, since the kiosk refuses one from before
// 2020 or more than a day ahead of its own clock (kiosk/server/routers/sync.py). So no child is
// screened until the date is set.
function clockProblem(now) {
  const made = new Date(state.screener.app.created_at);
  if (Number.isNaN(made.getTime()) || now.getTime() >= made.getTime() - CLOCK_SLACK_MS) return null;
  return t('tablet_clock_wrong', { today: now.toISOString().slice(0, 10), made: made.toISOString().slice(0, 10) });
}

// `analysis`: the live capture's, whose face is screened (a photo is detected here)
export async function screenCanvas(canvas, consent, analysis = null) {
  const ref = childRef();
  if (!ref.ok) { setStatus(t('child_ref_invalid')); $('child-ref').focus(); return { result: null, saved: null }; }
  const now = state.now();
  const clock = clockProblem(now);
  if (clock) { setStatus(clock); return { result: null, saved: null, clock }; }
  const { rgb, h, w } = rgbOf(canvas);
  setStatus(t('screening'));
  const result = await state.screener.screen(rgb, h, w, analysis);
  if (result.error) { setStatus(t(result.error === 'no_face' ? 'no_face' : 'try_again')); return { result, saved: null }; }
  const rec = makeRecord(result, { tabletId: state.tabletId, consent, childRef: ref.value, photoJpegB64: consent ? await jpegB64(canvas) : null, now });
  // a record the tablet cannot keep (its storage full) is said with the result: it threw, and the
  // result was never shown (from the camera, the guidance loop stopped for good)
  let saved = rec, notSaved = null;
  try {
    await addRecord(state.db, rec);
  } catch (err) {
    saved = null; notSaved = err.message || String(err);
  }
  if (saved) nextChild();
  setStatus('');
  state.last = { result, saved, notSaved };
  showResult(result, saved, notSaved);
  await refreshCounts();
  return { result, saved, notSaved };
}

// A photo gets the kiosk's answer: the same quality check as POST /v1/screen (which refuses a
// failing photo with 422 quality_failed), on its face, which is then the one screened.
// A file the browser cannot decode (an iPhone's HEIC, which Chromium does not read; a damaged file)
// is said: it threw, unhandled, and the page showed nothing at all.
export async function screenFile(file, consent) {
  let bmp;
  try {
    bmp = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    setStatus(t('photo_unreadable'));
    return { result: null, saved: null, unreadable: true };
  }
  const canvas = drawTo(bmp, bmp.width, bmp.height);
  if (!childRef().ok) return screenCanvas(canvas, consent);  // says why it refuses
  const { rgb, h, w } = rgbOf(canvas);
  setStatus(t('screening'));
  const analysis = await state.screener.analyse(rgb, h, w);
  if (!analysis.report.passed) {
    setStatus(`${t('quality_failed')}: ${t(analysis.report.instruction)}`);
    return { result: null, saved: null, quality: analysis.report };
  }
  return screenCanvas(canvas, consent, analysis);
}

function showResult(r, rec, notSaved = null) {
  const box = $('result');
  box.hidden = false;
  showFace(r.aligned, r.cam);
  box.dataset.flag = String(r.flag);
  $('result-label').textContent = t(r.label);
  $('result-advice').textContent = t(r.flag ? 'refer_advice' : 'no_flag_advice');
  $('result-child').textContent = rec?.child_ref ? t('child_ref_line', { child_ref: rec.child_ref }) : '';
  $('result-prob').textContent = t('probability', { probability: r.probability, threshold: r.threshold });
  $('result-model').textContent = `${t('model_line', { model_id: r.model_id, version: r.model_version })} · ${r.backend}`;
  $('result-saved').textContent = rec ? `✓ ${t('tablet_saved')}` + (rec.consent ? ` · ${t('consent_recorded')}` : '')
    : notSaved ? t('tablet_not_saved', { reason: notSaved }) : '';
  document.body.dataset.state = 'result';
  window.scrollTo(0, 0);
}

// the face as the model saw it (the aligned crop) and its activation map over it (core/cam.js,
// edge.postprocess.overlay_cam), as the kiosk's result card shows them
function showFace(aligned, cam) {
  const img = $('result-face');
  $('result-map').hidden = true;
  if (!aligned) { img.hidden = true; return; }
  const s = Math.round(Math.sqrt(aligned.length / 3));
  img.src = rgbDataUrl(aligned, s, s);
  img.hidden = false;
  if (!cam) return;
  $('result-cam').src = rgbDataUrl(overlayCam(aligned, cam), s, s);
  drawRamp($('cam-ramp'));
  $('result-map').hidden = false;
}

// an RGB (h, w, 3) byte array as a PNG data URL
function rgbDataUrl(rgb, w, h) {
  const c = document.createElement('canvas'); c.width = w; c.height = h;
  const px = new ImageData(w, h);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) { px.data[j] = rgb[i]; px.data[j + 1] = rgb[i + 1]; px.data[j + 2] = rgb[i + 2]; px.data[j + 3] = 255; }
  c.getContext('2d').putImageData(px, 0, 0);
  return c.toDataURL('image/png');
}

// the map's colour scale, low (blue) to high (red), one column per level
function drawRamp(canvas) {
  const px = new ImageData(256, 1);
  for (let v = 0; v < 256; v++) { const [r, g, b] = jet(v); px.data.set([r, g, b, 255], v * 4); }
  canvas.getContext('2d').putImageData(px, 0, 0);
}

async function refreshCounts() {
  if (!state.db || !state.messages) return;
  const c = await counts(state.db);
  $('counts').textContent = t(c.total === 1 ? 'tablet_counts_one' : 'tablet_counts', c);
}

// An address a health worker typed without its scheme ("192.168.1.20:8443") was taken as one and the
// sync said "Could not reach the kiosk (network: Failed to fetch)", sending them to the network
function kioskAddress(text) {
  try {
    const u = new URL(text);
    return ['http:', 'https:'].includes(u.protocol) && u.host !== '';
  } catch { return false; }
}

export async function sync() {
  const url = $('kiosk-url').value.trim(), token = $('kiosk-token').value;
  if (!kioskAddress(url)) {
    $('sync-status').textContent = t('tablet_kiosk_url_invalid');
    return { sent: 0, waiting: (await counts(state.db)).waiting, error: 'kiosk address', status: null, refused: [] };
  }
  localStorage.setItem('facescreen-kiosk-url', url);
  const out = await syncAll(state.db, url, token);
  // a wrong token is not an unreachable kiosk, nor is a kiosk that answered and took nothing (full, busy,
  // started without a token): say which, so the health worker fixes the right thing
  const failed = out.status === 401 ? t('tablet_wrong_token')
    : out.status ? t('tablet_sync_stopped', { reason: out.error }) : `${t('tablet_sync_failed')} (${out.error})`;
  // records the kiosk refused stay here: how many, and the kiosk's reason for the first
  const refused = out.refused.length ? t('tablet_sync_refused', { refused: out.refused.length, reason: out.refused[0].error }) : '';
  const done = out.error ? failed : refused ? '' : t('tablet_synced');
  $('sync-status').textContent = [done, refused].filter(Boolean).join(' ');
  showRefused(out.refused);
  await refreshCounts();
  // in range of a kiosk now: a tablet left open all day looks for a new export here too, not only at start
  if (!out.error && state.screener && navigator.serviceWorker?.controller) {
    checkForUpdate();  // not awaited: the sync's answer does not wait on an install
  }
  return out;
}

// ---- results the kiosk refused: saved to a file, then removed -------------------------------------
// A record the kiosk refuses for what it holds stays here and is tried at every sync; one no kiosk will
// take (made while the clock ran ahead, a photo no kiosk decodes) stayed for good, with nothing to do
// about it. The data manager saves them to a file (a sync request's body: POSTed as it is to a kiosk
// that takes them), and only the records in that file may then be removed from this tablet.
function showRefused(refused) {
  state.refused = refused;
  state.refusedSaved = null;
  $('refused').hidden = !refused.length;
  $('refused-remove').disabled = true;
}

export async function saveRefused() {
  const ids = new Set(state.refused.map((r) => r.id));
  const records = (await allRecords(state.db)).filter((r) => ids.has(r.id) && !r.synced_at);
  const text = JSON.stringify(syncBody(records), null, 1);
  const name = `facescreen-refused-${state.tabletId}-${state.now().toISOString().slice(0, 10)}.json`;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  state.refusedSaved = records.map((r) => r.id);
  $('refused-remove').disabled = !records.length;
  return { name, text };
}

export async function removeRefused() {
  const ids = state.refusedSaved ?? [];
  if (!ids.length || !window.confirm(t('tablet_refused_remove_confirm', { count: ids.length }))) return 0;
  await deleteRecords(state.db, ids);
  showRefused([]);
  $('sync-status').textContent = t('tablet_refused_removed', { count: ids.length });
  await refreshCounts();
  return ids.length;
}

// ---- the child's reference (kiosk/childref.py's format, from app.json) ---------------------------

const ChildRef = window.facescreenChildRef;
const childRefField = ChildRef.field({ section: $('child'), video: $('video'), spec: () => state.screener?.app.child_ref, t });
const childRef = () => childRefField.current();

// ---- live guidance ------------------------------------------------------------------------------

function noCamera(key) {
  state.noCameraKey = key;
  $('upload-why').textContent = t(key);
  return false;
}

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) return noCamera(window.isSecureContext ? 'no_camera' : 'needs_secure_origin');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user', width: { ideal: 1280 } }, audio: false });
  } catch { return noCamera('no_camera'); }
  const video = $('video');
  video.srcObject = stream;
  await video.play();
  $('live').hidden = false;
  $('scan-ref').hidden = !ChildRef.canScan();  // scanning reads the live camera
  guidanceLoop(video);
  return true;
}

// One instruction at a time (the first failing measure's); the kiosk's guidance (core/guide.js)
// decides when the sharpest frame of a passing streak is screened.
async function guidanceLoop(video) {
  const guide = new Guide(state.screener);
  state.guidance = { frames: 0, ms: 0 };
  while (true) {
    try {
      if (document.body.dataset.state === 'result' || video.readyState < 2 || !childRef().ok) { guide.reset(); state.speaker.forget(); await new Promise((r) => setTimeout(r, 200)); continue; }
      const canvas = drawTo(video, video.videoWidth, video.videoHeight, MAX_FRAME_SIDE);
      const { rgb, h, w } = rgbOf(canvas);
      const t0 = performance.now();
      let { key, capture } = await guide.step(rgb, h, w, t0, canvas);
      state.guidance.frames += 1; state.guidance.ms += performance.now() - t0;
      if (state.retakenAt !== null) {
        if (key === 'no_face' || performance.now() - state.retakenAt >= state.retakePauseMs) state.retakenAt = null;
        else { guide.reset(); capture = null; key = 'retake_look_away'; }
      }
      document.body.dataset.state = key === 'hold' ? 'hold' : 'guiding';
      $('instruction').textContent = t(key);
      state.speaker.say(key, t(key));
      // the frame itself, and the face its quality was judged on: one detection per capture
      if (capture) await screenCanvas(capture.frame, $('consent').checked, capture.analysis);
      await new Promise((r) => requestAnimationFrame(r));
    } catch (err) {
      // a frame that fails (the runtime throwing, a lost WebGL or WebAssembly context) is said, and the
      // guidance goes on after a pause: it ended the loop for good, the camera still showing
      console.error(err);
      guide.reset();
      setStatus(`${t('try_again')} (${err.message || err})`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

// ---- a new export -----------------------------------------------------------------------------
// A new export (another model, threshold or app) reaches a tablet only here: every file comes from the
// offline copy, whose app.json is the one it was installed with, so an installed tablet kept its first
// export for good. Online, the kiosk's app.json is read past every cache (sw.js lets `no-store` through);
// a new version installs beside this one (its own cache, every file checked against its SHA-256) and
// is used from the next start; the page says so, with a button to start it now. Looked for at start and
// after each sync that reached a kiosk (a tablet may stay open all day). The kiosk serves no
// app for a model it no longer runs (409): then this version is kept as it is. It never rejects: an
// unreachable kiosk is no news, and a version that cannot be kept is said (here, or by sw.js).
export async function checkForUpdate() {
  let latest;
  try {
    const resp = await fetch(new URL('app.json', BASE), { cache: 'no-store' });
    if (!resp.ok) return null;
    latest = await resp.json();
  } catch { return null; }  // offline: nothing to compare with
  if (!latest?.version || latest.version === state.screener.app.version) return null;
  let reg;
  try {
    reg = await navigator.serviceWorker.register(`sw.js?v=${latest.version}`);
  } catch (err) {
    showUpdate({ failed: err.message || String(err) });
    return latest.version;
  }
  // ready once activated, when its activation has dropped the copy before it (the page's controller
  // changes earlier, before the worker's activate event has run); a failed install is told by sw.js
  const worker = reg.installing ?? reg.waiting ?? reg.active;
  if (!worker) return null;
  const activated = () => { if (worker.state === 'activated') showUpdate({ ready: true }); };
  worker.addEventListener('statechange', activated);
  activated();
  return latest.version;
}

function showUpdate(update = state.update) {
  state.update = update;
  if (!update) return;
  $('update-text').textContent = update.ready ? t('tablet_update_ready') : t('tablet_update_failed', { reason: update.failed });
  $('update-open').hidden = !update.ready;
  $('update').hidden = false;
}

// Whether the app is kept on the tablet for use without a network, said either way: over plain http
// (a kiosk's LAN address without --tls-cert) the browser keeps no service worker, and the app said
// nothing, so a health worker found out in the village, where the page did not open at all.
function showOffline(offline = state.offline) {
  state.offline = offline;
  const badge = $('offline-ready');
  badge.textContent = t(offline.key, { reason: offline.reason });
  badge.classList.toggle('warn', !offline.ready);
  badge.hidden = false;
  document.body.dataset.offlineReady = String(offline.ready);
}

// Results wait on the tablet until a kiosk is in range, so the browser must not clear them when the
// tablet runs short of space, which it may do to a site's "best-effort" storage unless asked to keep
// it (granted to an app added to the home screen; headless Chromium refuses). Asked once; a refusal is
// said under the counts, with what to do, for a loss nobody would otherwise see.
async function keepResults() {
  state.persisted = navigator.storage?.persist ? await navigator.storage.persist().catch(() => false) : false;
  showStorageNote();
}

function showStorageNote() {
  if (state.persisted === undefined || !state.messages) return;
  $('storage-note').textContent = state.persisted ? '' : t('tablet_storage_not_kept');
}

// ---- start ------------------------------------------------------------------------------------

async function main() {
  state.messages = await (await fetch(new URL('messages.json', BASE))).json();
  // the menu lists every language of the catalogue (kiosk/locale), each in its own name
  $('lang').replaceChildren(...Object.keys(state.messages).map((l) => new Option(state.messages[l].language_name, l)));
  const loaded = await loadApp(BASE);
  // the language last chosen on this tablet, else the browser's, as the phone page starts (core/language.js)
  const tags = navigator.languages?.length ? navigator.languages : [navigator.language];
  state.lang = localStorage.getItem('facescreen-lang')
    || browserLanguage(tags, Object.keys(state.messages), loaded.app.language_aliases);
  if (!(state.lang in state.messages)) state.lang = 'en';
  applyLanguage();
  setStatus(t('tablet_loading'));
  $('load-progress').hidden = false;
  state.db = await openDb();
  keepResults();  // not awaited: the browser may take its time to answer
  state.tabletId = localStorage.getItem('facescreen-tablet-id') || `tablet-${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}`;
  localStorage.setItem('facescreen-tablet-id', state.tabletId);
  $('kiosk-url').value = localStorage.getItem('facescreen-kiosk-url') || new URL('..', BASE).href;
  state.screener = await BrowserScreener.create(BASE, loaded, (done, total) => {
    $('load-progress').max = total; $('load-progress').value = done;
    setStatus(t('tablet_loading_step', { done, total }));
  });
  $('load-progress').hidden = true;
  applyLanguage();
  setStatus('');
  document.body.dataset.state = 'ready';
  if (!window.isSecureContext || !('serviceWorker' in navigator)) {
    showOffline({ ready: false, key: 'tablet_needs_https' });
  } else {
    navigator.serviceWorker.addEventListener('message', (e) => {
      if (!e.data?.offlineFailed) return;
      // a new version that could not be kept leaves this one, and its offline copy, as they were
      if (e.data.version !== state.screener.app.version) showUpdate({ failed: e.data.offlineFailed });
      else showOffline({ ready: false, key: 'tablet_offline_failed', reason: e.data.offlineFailed });
    });
    navigator.serviceWorker.startMessages();
    navigator.serviceWorker.register(`sw.js?v=${state.screener.app.version}`).then(async () => {
      await navigator.serviceWorker.ready;
      showOffline({ ready: true, key: 'tablet_offline_ready' });
      checkForUpdate();  // not awaited: the offline copy this page runs from is ready either way
    }).catch((err) => showOffline({ ready: false, key: 'tablet_offline_failed', reason: err.message || String(err) }));
  }
  $('lang').onchange = () => { state.lang = $('lang').value; localStorage.setItem('facescreen-lang', state.lang); applyLanguage(); };
  $('file').onchange = async () => { const f = $('file').files[0]; if (f) await screenFile(f, $('consent').checked); };
  $('retake').onclick = () => {
    $('result').hidden = true; state.last = null; document.body.dataset.state = 'ready';
    state.retakenAt = performance.now();
  };
  $('sync-now').onclick = () => sync();
  $('update-open').onclick = () => location.reload();
  $('refused-save').onclick = () => saveRefused();
  $('refused-remove').onclick = () => removeRefused();
  // spoken guidance, muted by the visible control (remembered on this tablet)
  state.speaker.bindMute($('mute'));
  await startCamera();
}

window.tablet = { state, screenFile, screenCanvas, sync, saveRefused, removeRefused, checkForUpdate, counts: () => counts(state.db), t };
main().catch((err) => { setStatus(String(err)); document.body.dataset.state = 'error'; console.error(err); });
