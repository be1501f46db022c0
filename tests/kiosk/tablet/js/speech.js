// speech.js's Speaker observed (test_tablet_speech.py, which loads that classic script into the page
// first): speechSynthesis.speak is wrapped to record each utterance, then called for real; `steps` are
// [op, key, text] rows: say, forget, mute, unmute.
export async function run(lang, steps) {
  const Speaker = window.facescreenSpeaker;
  const said = [];
  const real = speechSynthesis.speak.bind(speechSynthesis);
  speechSynthesis.speak = (u) => { said.push({ text: u.text, lang: u.lang }); real(u); };
  try {
    document.documentElement.lang = lang;
    const speaker = new Speaker();
    for (const [op, key, text] of steps) {
      if (op === 'say') speaker.say(key, text);
      else if (op === 'forget') speaker.forget();
      else if (op === 'mute') speaker.setMuted(true);
      else if (op === 'unmute') speaker.setMuted(false);
    }
  } finally {
    speechSynthesis.speak = real;  // the page's own again, for the next run
  }
  return said;
}
