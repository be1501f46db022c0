// The tablet app: guided capture or a photo, screening on this device, results kept here and
// sent to a kiosk later. All wording comes from messages.json (kiosk/messages.py, one home).
import { Guide } from './core/guide.js';
import { BrowserScreener } from './core/screen.js';
import { openDb, makeRecord, addRecord, counts, syncAll } from './core/store.js';

const $ = (id) => document.getElementById(id);
const BASE = new URL('./', location.href);
const MAX_FRAME_SIDE = 640;     // guidance runs on a frame this size at most

const state = { lang: localStorage.getItem('facescreen-lang') || 'en', messages: null, screener: null, db: null,
                tabletId: null, last: null };

// Python's str.format for the fields the tables use: {name} and {name:.3f}
function format(text, fields = {}) {
  return text.replace(/\{(\w+)(?::\.(\d+)f)?\}/g, (_, k, digits) => (digits ? Number(fields[k]).toFixed(+digits) : String(fields[k])));
}

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
  $('ncu').textContent = t('not_for_clinical_use');
  if (state.screener?.app.demo) { $('demo').hidden = false; $('demo').textContent = t('demo_notice'); }
  if (state.screener) $('model-line').textContent = t('model_line', { model_id: state.screener.card.model_id, version: state.screener.card.version });
  if (document.body.dataset.offlineReady) $('offline-ready').textContent = t('tablet_offline_ready');
  if (state.last) showResult(state.last.result, state.last.saved);
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

// `analysis`: the live capture's, whose face is screened (a photo is detected here)
export async function screenCanvas(canvas, consent, analysis = null) {
  const { rgb, h, w } = rgbOf(canvas);
  setStatus(t('screening'));
  const result = await state.screener.screen(rgb, h, w, analysis);
  if (result.error) { setStatus(t(result.error === 'no_face' ? 'no_face' : 'try_again')); return { result, saved: null }; }
  const rec = makeRecord(result, { tabletId: state.tabletId, consent, photoJpegB64: consent ? await jpegB64(canvas) : null });
  await addRecord(state.db, rec);
  setStatus('');
  state.last = { result, saved: rec };
  showResult(result, rec);
  await refreshCounts();
  return { result, saved: rec };
}

export async function screenFile(file, consent) {
  const bmp = await createImageBitmap(file, { imageOrientation: 'from-image' });
  return screenCanvas(drawTo(bmp, bmp.width, bmp.height), consent);
}

function showResult(r, rec) {
  const box = $('result');
  box.hidden = false;
  box.dataset.flag = String(r.flag);
  $('result-label').textContent = t(r.label);
  $('result-advice').textContent = t(r.flag ? 'refer_advice' : 'no_flag_advice');
  $('result-prob').textContent = t('probability', { probability: r.probability, threshold: r.threshold });
  $('result-model').textContent = `${t('model_line', { model_id: r.model_id, version: r.model_version })} · ${r.backend}`;
  $('result-saved').textContent = rec ? t('tablet_saved') + (rec.consent ? ` · ${t('consent_recorded')}` : '') : '';
  document.body.dataset.state = 'result';
}

async function refreshCounts() {
  if (!state.db || !state.messages) return;
  $('counts').textContent = t('tablet_counts', await counts(state.db));
}

export async function sync() {
  const url = $('kiosk-url').value.trim(), token = $('kiosk-token').value;
  localStorage.setItem('facescreen-kiosk-url', url);
  const out = await syncAll(state.db, url, token);
  $('sync-status').textContent = out.error ? `${t('tablet_sync_failed')} (${out.error})` : t('tablet_synced');
  await refreshCounts();
  return out;
}

// ---- live guidance ------------------------------------------------------------------------------

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) return false;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user', width: { ideal: 1280 } }, audio: false });
  } catch { return false; }
  const video = $('video');
  video.srcObject = stream;
  await video.play();
  $('live').hidden = false;
  guidanceLoop(video);
  return true;
}

// One instruction at a time (the first failing measure's); the kiosk's guidance (core/guide.js)
// decides when the sharpest frame of a passing streak is screened.
async function guidanceLoop(video) {
  const guide = new Guide(state.screener);
  state.guidance = { frames: 0, ms: 0 };
  while (true) {
    if (document.body.dataset.state === 'result' || video.readyState < 2) { guide.reset(); await new Promise((r) => setTimeout(r, 200)); continue; }
    const canvas = drawTo(video, video.videoWidth, video.videoHeight, MAX_FRAME_SIDE);
    const { rgb, h, w } = rgbOf(canvas);
    const t0 = performance.now();
    const { key, capture } = await guide.step(rgb, h, w, t0, canvas);
    state.guidance.frames += 1; state.guidance.ms += performance.now() - t0;
    document.body.dataset.state = key === 'hold' ? 'hold' : 'guiding';
    $('instruction').textContent = t(key);
    // the frame itself, and the face its quality was judged on: one detection per capture
    if (capture) await screenCanvas(capture.frame, $('consent').checked, capture.analysis);
    await new Promise((r) => requestAnimationFrame(r));
  }
}

// ---- start ------------------------------------------------------------------------------------

async function main() {
  state.messages = await (await fetch(new URL('messages.json', BASE))).json();
  // the menu lists every language of the catalogue (kiosk/locale), each in its own name
  $('lang').replaceChildren(...Object.keys(state.messages).map((l) => new Option(state.messages[l].language_name, l)));
  if (!(state.lang in state.messages)) state.lang = 'en';
  applyLanguage();
  setStatus(t('tablet_loading'));
  state.db = await openDb();
  state.tabletId = localStorage.getItem('facescreen-tablet-id') || `tablet-${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}`;
  localStorage.setItem('facescreen-tablet-id', state.tabletId);
  $('kiosk-url').value = localStorage.getItem('facescreen-kiosk-url') || new URL('..', BASE).href;
  state.screener = await BrowserScreener.create(BASE);
  applyLanguage();
  setStatus('');
  document.body.dataset.state = 'ready';
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register(`sw.js?v=${state.screener.app.version}`).then(async () => {
      await navigator.serviceWorker.ready;
      $('offline-ready').textContent = t('tablet_offline_ready');
      document.body.dataset.offlineReady = 'true';
    }).catch((err) => console.warn('service worker not installed:', err));
  }
  $('lang').onchange = () => { state.lang = $('lang').value; localStorage.setItem('facescreen-lang', state.lang); applyLanguage(); };
  $('file').onchange = async () => { const f = $('file').files[0]; if (f) await screenFile(f, $('consent').checked); };
  $('retake').onclick = () => { $('result').hidden = true; state.last = null; document.body.dataset.state = 'ready'; };
  $('sync-now').onclick = () => sync();
  await startCamera();
}

window.tablet = { state, screenFile, screenCanvas, sync, counts: () => counts(state.db), t };
main().catch((err) => { setStatus(String(err)); document.body.dataset.state = 'error'; console.error(err); });
