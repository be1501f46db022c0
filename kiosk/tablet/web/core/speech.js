// Spoken guidance, kiosk/speech.py's Speaker rule in the browser: each new instruction said once, in
// the page's language (document.documentElement.lang), not again while it stays on screen, again
// after forget() (a result or a reset), never while muted. The browser's own speech synthesis:
// offline where the device has voices, nothing is sent anywhere by this code.
// Observed in Chromium by tests/kiosk/tablet/test_tablet_speech.py.
export class Speaker {
  constructor(synth = globalThis.speechSynthesis, lang = () => document.documentElement.lang || 'en') {
    this.synth = synth; this.lang = lang; this.muted = false; this.last = null;
  }

  say(key, text) {
    if (key === this.last) return;
    this.last = key;
    if (this.muted || !this.synth || !text) return;
    this.synth.cancel();  // a new instruction cuts the one still being said
    const u = new SpeechSynthesisUtterance(text);
    u.lang = this.lang();
    this.synth.speak(u);
  }

  forget() { this.last = null; }

  setMuted(muted) {
    this.muted = muted;
    if (muted && this.synth) this.synth.cancel();
  }
}
