// The tablet app's page (index.html, served at /tablet/) as test_tablet_app.py drives and reads it:
// its window.tablet and its elements.
const byId = (id) => document.getElementById(id);

// the language picker, as a health worker changes it
export function setLang(lang) {
  const s = byId('lang');
  s.value = lang;
  s.dispatchEvent(new Event('change'));
}

// the child's register number typed; the field's message (empty when it is accepted)
export function typeChildRef(value) {
  const i = byId('child-ref');
  i.value = value;
  i.dispatchEvent(new Event('input'));
  return byId('child-ref-msg').innerText;
}

// the chosen file screened again, with or without the family's consent: the saved result's id
export async function screenAgain(consent) {
  const out = await window.tablet.screenFile(byId('file').files[0], consent);
  return out.saved && out.saved.id;
}

// the chosen file screened without consent: the quality check's instruction, or the saved id
export async function screenChosenFile() {
  const out = await window.tablet.screenFile(byId('file').files[0], false);
  return out.quality ? { instruction: out.quality.instruction, saved: null }
    : { instruction: null, saved: out.saved && out.saved.id };
}

// the ids of the results kept on the tablet (IndexedDB)
export async function storedIds() {
  const db = window.tablet.state.db;
  return new Promise((ok) => {
    const r = db.transaction('results').objectStore('results').getAllKeys();
    r.onsuccess = () => ok(r.result);
  });
}

// where the result is drawn: in view, in the capture's place, with the face the model saw
export function resultPlacement() {
  const r = byId('result').getBoundingClientRect();
  const f = byId('result-face');
  return { top: r.top, bottom: r.bottom, height: innerHeight, upload: byId('upload').offsetParent,
           face: f.hidden ? 0 : f.naturalWidth, saved: byId('result-saved').innerText,
           counts: byId('counts').innerText };
}

// the activation map shown, and the class-logit map the page's result carries
export function shownMap() {
  const r = window.tablet.state.last.result, m = byId('result-map');
  const img = byId('result-cam');
  return { shown: !m.hidden && m.offsetParent !== null, width: img.naturalWidth, caption: m.innerText,
           cam: Array.from(r.cam), logits: { dims: r.cam_logits.dims, data: Array.from(r.cam_logits.data) } };
}

// where the first and the last character of an element's text are drawn (right to left: the first at
// the right), and the free space left and right of its words within its box
function textBox(el) {
  const n = el.firstChild, range = document.createRange();
  const at = (i) => { range.setStart(n, i); range.setEnd(n, i + 1); return range.getBoundingClientRect(); };
  const first = at(0), last = at(n.length - 1);
  range.selectNodeContents(el);
  const t = range.getBoundingClientRect(), b = el.getBoundingClientRect();
  return { direction: getComputedStyle(el).direction, text: el.innerText, first: first.left, last: last.left,
           before: t.left - b.left, after: b.right - t.right };
}

// the result's layout: the page's direction and language, its text, and each sentence's box
export function resultLayout() {
  const out = { dir: document.documentElement.dir, lang: document.documentElement.lang,
                all: byId('result').innerText,
                url: getComputedStyle(byId('kiosk-url')).direction,
                token: getComputedStyle(byId('kiosk-token')).direction };
  out.title = textBox(document.querySelector('#result h2'));
  for (const id of ['result-label', 'result-advice', 'result-prob']) out[id] = textBox(byId(id));
  return out;
}

// a record put among the app's own (IndexedDB) as it is, as if the app had made it: its id
export async function keepRecord(rec) {
  const db = window.tablet.state.db;
  return new Promise((ok, fail) => {
    const t = db.transaction('results', 'readwrite');
    t.objectStore('results').add(rec);
    t.oncomplete = () => ok(rec.id);
    t.onerror = () => fail(t.error);
  });
}

// the kept results as [id, consent, whether a photo is still held], in the tablet's IndexedDB
export async function storedPhotos() {
  const db = window.tablet.state.db;
  return new Promise((ok) => {
    const r = db.transaction('results').objectStore('results').getAll();
    r.onsuccess = () => ok(r.result.map((x) => [x.id, x.consent, Boolean(x.photo_jpeg_b64)]));
  });
}
