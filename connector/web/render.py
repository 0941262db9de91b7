"""Templates and languages: one Jinja2 environment, gettext catalogs read with Babel.

The ``.po`` catalogs under ``locale/`` are compiled in memory at start, so a city adds its
language by adding one ``locale/<lang>/LC_MESSAGES/messages.po`` — no build step. The language
is ``?lang=``, else the ``agora_lang`` cookie, else the browser's Accept-Language, else English.
"""

from __future__ import annotations

import contextvars
import io
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

HERE = Path(__file__).parent
LANG_COOKIE = "agora_lang"
DEFAULT_LANG = "en"

_current: contextvars.ContextVar[NullTranslations | None] = contextvars.ContextVar(
    "agora_web_translations", default=None
)
_NONE = NullTranslations()


def load_catalogs() -> dict[str, NullTranslations]:
    """Every language of ``locale/``, compiled from its .po file."""
    found: dict[str, NullTranslations] = {}
    for po in sorted((HERE / "locale").glob("*/LC_MESSAGES/messages.po")):
        lang = po.parent.parent.name
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        found[lang] = Translations(buf)
    found.setdefault(DEFAULT_LANG, NullTranslations())
    return found


def _gettext(message: str, **kw: Any) -> str:
    text = (_current.get() or _NONE).gettext(message)
    return text % kw if kw else text


def _ngettext(singular: str, plural: str, n: int, **kw: Any) -> str:
    text = (_current.get() or _NONE).ngettext(singular, plural, n)
    return text % {"num": n, **kw}


class Pages:
    """The environment and the catalogs; ``render`` answers one page in the caller's language."""

    def __init__(self) -> None:
        self.catalogs = load_catalogs()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=jinja2.select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            undefined=jinja2.StrictUndefined,
        )
        from connector.web.plain import short

        self.env.filters["short"] = short
        self.env.globals["short"] = short
        self.env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]

    def language(self, request: web.Request) -> str:
        wanted = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
        if wanted in self.catalogs:
            return wanted
        for part in request.headers.get("Accept-Language", "").split(","):
            code = part.split(";")[0].strip().lower()[:2]
            if code in self.catalogs:
                return code
        return DEFAULT_LANG

    def gettext(self, lang: str, message: str) -> str:
        return self.catalogs.get(lang, NullTranslations()).gettext(message)

    def render(
        self, request: web.Request, template: str, *, status: int = 200, **values: Any
    ) -> web.Response:
        lang = self.language(request)
        token = _current.set(self.catalogs[lang])
        try:
            html = self.env.get_template(template).render(lang=lang, path=request.path, **values)
        finally:
            _current.reset(token)
        response = web.Response(text=html, status=status, content_type="text/html")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "form-action *; frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.query.get("lang") in self.catalogs:
            response.set_cookie(
                LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True
            )
        return response


def wants_html(request: web.Request) -> bool:
    """A browser asking for a page (the API answers anything else)."""
    return "text/html" in request.headers.get("Accept", "")
