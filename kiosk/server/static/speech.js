// Spoken guidance on the capture pages (the phone page, and the tablet app, whose export copies this
// file): kiosk/speech.py's Speaker rule in the browser. Each new instruction is said once, in the
// page's language (document.documentElement.lang), not again while it stays on screen, again after
// forget() (a result or a reset), never while muted. The browser's own speech synthesis: offline
// where the device has voices; nothing is sent anywhere by this code. Observed in Chromium by
// tests/kiosk/tablet/test_tablet_speech.py (the rule) and tests/kiosk/test_kiosk_capture_page.py
// (the phone page speaking its guidance).
"use strict";
window.facescreenSpeaker = class Speaker {
  constructor(synth = window.speechSynthesis, lang = () => document.documentElement.lang || "en") {
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

  // the control's name for screen readers and its tooltip, in the page's language (call it whenever the
  // language changes): a toggle named "Mute ...", whose aria-pressed says whether the guidance is muted
  labelMute(button, text) {
    button.setAttribute("aria-label", text);
    button.title = text;
  }

  // the visible on/off control over the camera view; the choice is remembered on this device
  bindMute(button, storageKey = "facescreen-muted") {
    const show = () => {
      button.setAttribute("aria-pressed", String(this.muted));
      button.textContent = this.muted ? "\u{1F507}" : "\u{1F50A}";
    };
    this.setMuted(localStorage.getItem(storageKey) === "true");
    button.onclick = () => { this.setMuted(!this.muted); localStorage.setItem(storageKey, String(this.muted)); show(); };
    show();
  }
};
