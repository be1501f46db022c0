"""Every sentence the kiosk shows a family or a health worker, from one message catalogue.

The catalogue is gettext (``kiosk/locale``): ``facescreen.pot`` holds the English source (``msgid``)
under a stable key (``msgctxt``), and each ``<lang>/LC_MESSAGES/facescreen.po`` its translation, in the
format translators' tools (Poedit, Weblate, Pontoon) read. Babel reads it. The kiosk window, the
capture page (``/v1/messages``) and the tablet app (``messages.json``, written by tablet-export) all
take their words from these tables, so there is one source for every screen.

* Machine-drafted translations are flagged ``fuzzy`` with the comment "machine-drafted" until a
  native speaker reviews them (``DRAFTED`` lists the keys per language).
* Two keys describe the language itself: ``language_name`` (its own name, for the menu) and
  ``text_direction`` (``ltr``/``rtl``, GTK's ``default:LTR`` convention): the pages set ``dir`` from it.
* A missing translation is never silent: by default the catalogue refuses to load, naming what is
  missing (a release cannot ship a gap); with ``FACESCREEN_I18N_FALLBACK=visible`` (development and
  tests) the English text is shown inside visible markers, ``[en: ...]``.

Plain words, one instruction at a time, and never the wording of a diagnosis: the result is a
screening flag that decides a referral for genetic evaluation (tests/kiosk/test_kiosk_wording.py scans
every table and the web page for forbidden phrasing).
"""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "facescreen"
FALLBACK_ENV = "FACESCREEN_I18N_FALLBACK"
VISIBLE_FALLBACK = "[en: {}]"


class CatalogueError(ValueError):
    """A catalogue is missing a translation (or is malformed): said with what to fix."""


def _read(path: Path):
    with open(path, "rb") as f:
        return read_po(f, domain=DOMAIN)


def load_catalogues(
    locale_dir: Path = LOCALE_DIR, fallback: str | None = None
) -> tuple[dict[str, dict[str, str]], dict[str, set[str]]]:
    """(language -> key -> text, language -> machine-drafted keys). English comes from the template;
    ``fallback``: None (refuse a gap) or "visible" (English in markers)."""
    fallback = os.environ.get(FALLBACK_ENV) if fallback is None else fallback
    if fallback not in (None, "", "visible"):
        raise CatalogueError(f"{FALLBACK_ENV} must be unset or 'visible', got {fallback!r}")
    source = {m.context: m.id for m in _read(locale_dir / f"{DOMAIN}.pot") if m.id and m.context}
    tables: dict[str, dict[str, str]] = {"en": dict(source)}
    drafted: dict[str, set[str]] = {"en": set()}
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        lang = po.parent.parent.name.replace("_", "-")
        found = {m.context: m for m in _read(po) if m.id and m.context}
        missing = sorted(k for k in source if not (k in found and found[k].string))
        if missing and fallback != "visible":
            raise CatalogueError(
                f"{po}: no translation for {', '.join(missing)}; translate them (or run with "
                f"{FALLBACK_ENV}=visible to see English in their place while developing)"
            )
        tables[lang] = {
            k: (found[k].string if k not in missing else VISIBLE_FALLBACK.format(source[k])) for k in source
        }
        drafted[lang] = {k for k, m in found.items() if m.fuzzy}
    return tables, drafted


MESSAGES, DRAFTED = load_catalogues()
ALIASES = {
    "zh": "zh-Hans",
    "zh-CN": "zh-Hans",
    "zh-SG": "zh-Hans",
    "en-GB": "en",
    "en-US": "en",
    "pt-BR": "pt",
    "pt-PT": "pt",
}
LANGUAGES = tuple(MESSAGES)


def language_names() -> dict[str, str]:
    """Each language in its own name, for a language menu."""
    return {lang: table["language_name"] for lang, table in MESSAGES.items()}


def language(code: str) -> str:
    """The table for ``code``: "en", "zh-Hans", an alias ("zh-CN"), or a regional tag whose base
    language has a table ("es-MX" -> "es", "ar-EG" -> "ar")."""
    lang = ALIASES.get(code, code)
    if lang not in MESSAGES:
        lang = ALIASES.get(code.split("-")[0], code.split("-")[0])
    if lang not in MESSAGES:
        raise ValueError(f"no messages for language {code!r}; available: {', '.join(LANGUAGES)}")
    return lang


def message(key: str, lang: str = "en", **fields: object) -> str:
    """The sentence for ``key`` in ``lang``; an unknown key is an error, never a blank screen."""
    table = MESSAGES[language(lang)]
    if key not in table:
        raise KeyError(f"message {key!r} is missing from the {lang!r} table")
    text = table[key]
    return text.format(**fields) if fields else text
