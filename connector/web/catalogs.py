"""Refresh the web pages' gettext catalogs from the templates (every locale's messages.po).

    python -m connector.web.catalogs

New messages are added to every ``.po`` with an empty translation (English falls back to the
message itself); existing translations are kept. A city adding its language copies
``connector/web/locale/es`` to its code and translates.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

WEB = Path(__file__).resolve().parent
METHODS = [("templates/**.html", "jinja2.ext.babel_extract")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extracted() -> Catalog:
    pot = Catalog()
    for _file, _line, message, _comments, _context in extract_from_dir(
        WEB, METHODS, options_map=OPTIONS
    ):
        if message:
            pot.add(message)
    return pot


def main() -> None:
    pot = extracted()
    for po_path in sorted((WEB / "locale").glob("*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as fh:
            catalog = read_po(fh)
        for message in pot:
            if message.id and message.id not in catalog:
                catalog.add(message.id)
        with po_path.open("wb") as fh:
            write_po(fh, catalog, omit_header=False, sort_output=True, width=100)
        print(po_path.relative_to(WEB), len(catalog))


if __name__ == "__main__":
    main()
