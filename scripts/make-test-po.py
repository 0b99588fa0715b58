#!/usr/bin/env python3
"""Writes a small Flask-Security-style gettext catalogue (Flask's layout,
<dir>/<lang>/LC_MESSAGES/flask_security.po, and with --mo the compiled .mo beside it)
for a handful of Flask-Security's msgids, so that tests can load a translation from a
folder through SECURITY_I18N_DIRNAME. Python's standard library only.

The committed fixtures (tests/fixtures/i18n) were made with:

    python3 scripts/make-test-po.py tests/fixtures/i18n eo
    python3 scripts/make-test-po.py tests/fixtures/i18n ia --mo --no-po
"""

import argparse
import os
import struct

# Flask-Security msgids (flask_security/core.py) with Esperanto and Interlingua texts
# written for these tests.
ENTRIES = {
    "Invalid password": {"eo": "Malĝusta pasvorto", "ia": "Contrasigno invalide"},
    "Instructions to reset your password have been sent to %(email)s.": {
        "eo": "Instrukcioj por restarigi vian pasvorton estis senditaj al %(email)s.",
        "ia": "Instructiones pro reinitialisar tu contrasigno esseva inviate a %(email)s.",
    },
    "You must sign in to view this resource.": {
        "eo": "Vi devas ensaluti por vidi ĉi tiun paĝon.",
        "ia": "Tu debe aperir un session pro vider iste pagina.",
    },
    "Password reset instructions": {
        "eo": "Instrukcioj por restarigi la pasvorton",
        "ia": "Instructiones pro reinitialisar le contrasigno",
    },
    "Remember me": {"eo": "Memori min", "ia": "Memorar me"},
}

HEADER = (
    "Project-Id-Version: Flask-Security (test fixture)\n"
    "Language: {lang}\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "Generated-By: scripts/make-test-po.py\n"
)


def quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def po_text(lang):
    lines = [
        "# Test translation in Flask-Security's layout.",
        "#, fuzzy",
        'msgid ""',
        'msgstr ""',
    ]
    lines += [quote(line + "\n") for line in HEADER.format(lang=lang).splitlines()]
    lines.append("")
    for msgid, texts in ENTRIES.items():
        lines.append("#: flask_security/core.py")
        if "%(" in msgid:
            lines.append("#, python-format")
        lines.append("msgid " + quote(msgid))
        lines.append("msgstr " + quote(texts[lang]))
        lines.append("")
    # A fuzzy entry is not a translation (msgfmt and Latchkey skip it).
    lines += ["#, fuzzy", 'msgid "Account is disabled."', 'msgstr "FUZZY"', ""]
    return "\n".join(lines)


def mo_bytes(lang):
    """GNU .mo, little-endian, entries sorted by msgid as msgfmt writes them."""
    pairs = [("", HEADER.format(lang=lang))]
    pairs += [(msgid, texts[lang]) for msgid, texts in ENTRIES.items()]
    pairs.sort()
    ids = [p[0].encode() for p in pairs]
    strs = [p[1].encode() for p in pairs]
    n = len(pairs)
    start = 7 * 4 + 16 * n
    blob = b""
    id_table, str_table = [], []
    for data, table in [(ids, id_table), (strs, str_table)]:
        for s in data:
            table.append((len(s), start + len(blob)))
            blob += s + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 0)
    for length, offset in id_table + str_table:
        out += struct.pack("<2I", length, offset)
    return out + blob


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="the folder given as SECURITY_I18N_DIRNAME")
    parser.add_argument("lang", choices=["eo", "ia"])
    parser.add_argument("--domain", default="flask_security")
    parser.add_argument("--mo", action="store_true", help="also write the compiled .mo")
    parser.add_argument("--no-po", action="store_true", help="do not write the .po")
    args = parser.parse_args()
    folder = os.path.join(args.dir, args.lang, "LC_MESSAGES")
    os.makedirs(folder, exist_ok=True)
    base = os.path.join(folder, args.domain)
    if not args.no_po:
        with open(base + ".po", "w", encoding="utf-8") as f:
            f.write(po_text(args.lang))
        print(base + ".po")
    if args.mo:
        with open(base + ".mo", "wb") as f:
            f.write(mo_bytes(args.lang))
        print(base + ".mo")


if __name__ == "__main__":
    main()
