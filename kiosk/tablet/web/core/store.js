// Results on the tablet (IndexedDB) and their sync to a kiosk's store.
// A record is written once, when its screening ends, with a random id made here; the sync sends
// unsent records one at a time to POST /v1/sync/results and marks one sent only after the kiosk
// acknowledged that id. The kiosk keeps the first copy of an id and acknowledges repeats, so a
// sync cut off at any point (before or after the kiosk committed) is finished by the next one,
// with nothing lost and nothing doubled. A photo travels only when the family consented.
// A record the kiosk refuses for what it holds (400, 413, 422: a tablet clock that was wrong when it
// was made, another model's result, a photo the kiosk cannot decode) stays on the tablet, unsent, and
// the sync goes on with the next: it stopped there, so one such record (sorted first, as a record
// dated 1970 by a reset clock is) kept every later screening off the kiosk for ever. Anything else
// (no network, a wrong token, a busy or full kiosk) stops the sync: the next records would meet it too.
// Refused records the page saves to a file (syncBody) may then be removed here (deleteRecords).

const DB = 'facescreen-tablet';
const STORE = 'results';

export function openDb(name = DB) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function tx(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const out = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(out && 'result' in out ? out.result : undefined);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('IndexedDB transaction aborted'));
  });
}

export function newId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// The record the kiosk stores (kiosk.server.routers.sync.SyncedResult); photo only with consent.
export function makeRecord(result, { tabletId, consent, childRef = null, photoJpegB64 = null, quality = {}, now = new Date() }) {
  if (photoJpegB64 && !consent) throw new Error('a photo is kept only with recorded consent');
  return {
    id: newId(), created_at: now.toISOString(), tablet_id: tabletId,
    model_id: result.model_id, model_version: result.model_version, backend: result.backend,
    probability: result.probability, threshold: result.threshold, flag: result.flag, label: result.label,
    not_for_clinical_use: result.not_for_clinical_use, intended_use: result.intended_use,
    quality, consent: Boolean(consent), photo_jpeg_b64: consent ? photoJpegB64 : null, child_ref: childRef || null,
    synced_at: null,
  };
}

export const addRecord = (db, rec) => tx(db, 'readwrite', (s) => s.add(rec));
export const allRecords = (db) => tx(db, 'readonly', (s) => s.getAll());
export const deleteRecords = (db, ids) => tx(db, 'readwrite', (s) => { for (const id of ids) s.delete(id); });

// A sync request's body (kiosk.server.routers.sync.SyncRequest) for `records`: what the sync sends,
// one record at a time, and the file the refused records are saved to (a kiosk that takes them reads
// it as it is: POST it to /v1/sync/results, at most 100 records a request)
export const syncBody = (records) => ({ results: records.map(({ synced_at: _, ...body }) => body) });

export async function counts(db) {
  const all = await allRecords(db);
  return { total: all.length, waiting: all.filter((r) => !r.synced_at).length };
}

// Sent: the kiosk holds the record (and its photo) now. The photo leaves the tablet in the same
// write: a consented child's photo stayed in IndexedDB for good, on a device that is carried from
// village to village and can be lost; the record stays (the counts), without it.
async function markSynced(db, id, when) {
  return tx(db, 'readwrite', (s) => {
    const get = s.get(id);
    get.onsuccess = () => { if (get.result) s.put({ ...get.result, synced_at: when, photo_jpeg_b64: null }); };
  });
}

// the kiosk's answers that judge the record sent, not the kiosk or the connection (kiosk/server/errors.py)
export const REFUSES_THE_RECORD = [400, 413, 422];

// Send every unsent record; returns {sent, waiting, error, status, refused}: `refused` lists the
// records the kiosk refused ({id, created_at, error}), kept for the next sync; `error` is what stopped
// it (the rest wait for the next sync). `kioskUrl` is the kiosk's base URL, `token` its access token.
export async function syncAll(db, kioskUrl, token, timeoutMs = 60000) {
  const pending = (await allRecords(db)).filter((r) => !r.synced_at)
    .sort((a, b) => a.created_at.localeCompare(b.created_at));
  let sent = 0;
  const refused = [];
  const stop = (error, status) => ({ sent, waiting: pending.length - sent, error, status, refused });
  for (const rec of pending) {
    let resp;
    try {
      resp = await fetch(new URL('v1/sync/results', kioskUrl.endsWith('/') ? kioskUrl : kioskUrl + '/'), {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(syncBody([rec])), cache: 'no-store',
        signal: AbortSignal.timeout(timeoutMs),  // a kiosk that went out of range mid-answer
      });
    } catch (err) {
      return stop(`network: ${err.message}`);
    }
    if (!resp.ok) {
      let msg = `HTTP ${resp.status}`;
      try { msg += `: ${(await resp.json()).error.message}`; } catch { /* not JSON */ }
      if (!REFUSES_THE_RECORD.includes(resp.status)) return stop(msg, resp.status);
      refused.push({ id: rec.id, created_at: rec.created_at, error: msg });
      continue;
    }
    let ack;
    try { ack = await resp.json(); } catch (err) { return stop(`network: ${err.message}`); }
    if (!ack.accepted.includes(rec.id)) return stop(`the kiosk did not acknowledge ${rec.id}`);
    await markSynced(db, rec.id, new Date().toISOString());
    sent += 1;
  }
  return { sent, waiting: pending.length - sent, error: null, refused };
}
