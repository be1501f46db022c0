// The tablet's first language, where none was chosen on it: the first of the browser's languages
// (navigator.languages) that the catalogue has, as the phone page gets it from the kiosk
// (kiosk/messages.py `language`: the tag, its alias "zh-CN" -> "zh-Hans", else its base language's,
// "es-MX" -> "es"), else English. The aliases travel in app.json ("language_aliases"); pinned against
// the Python for every alias and a list of browser tags in tests/kiosk/tablet/test_tablet_constants.py.
export function language(code, languages, aliases) {
  const direct = aliases[code] ?? code;
  if (languages.includes(direct)) return direct;
  const base = code.split('-')[0];
  const lang = aliases[base] ?? base;
  return languages.includes(lang) ? lang : null;
}

export function browserLanguage(tags, languages, aliases) {
  for (const tag of tags) {
    const lang = language(tag, languages, aliases);
    if (lang !== null) return lang;
  }
  return 'en';
}
