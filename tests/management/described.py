"""Calls to a running connector's management API, each answer checked against the OpenAPI
document that connector serves (status documented for the route, body valid for its schema)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator

from connector.config import load_settings
from connector.participant import init_participant, read_admin_key
from connector.runtime import Connector

TEST_IDENTITY: dict[str, Any] = {
    "allow_http_hosts": ["127.0.0.1"],
    "status_list_ttl_s": 0,
    "trusted_issuers_ttl_s": 0,
    "did_cache_ttl_s": 0,
}
JSON = re.compile(r"^application/([a-z.+-]+\+)?json$")


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any


@dataclass
class Described:
    """One connector, its served document, and the operations the calls covered."""

    connector: Connector
    admin_key: str
    http: aiohttp.ClientSession
    doc: dict[str, Any] = field(default_factory=dict)
    covered: set[tuple[str, str]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.connector.url

    @property
    def did(self) -> str:
        return self.connector.settings.did

    async def load(self) -> None:
        async with self.http.get(self.url + "/api/v1/openapi.json") as resp:  # no key
            assert resp.status == 200, await resp.text()
            self.doc = await resp.json()

    def template(self, method: str, path: str) -> str:
        """The documented path ``path`` is an instance of (fewest parameters first)."""
        bare = path.split("?", 1)[0]
        found = []
        for template, ops in self.doc["paths"].items():
            if method.lower() not in ops:
                continue
            pattern = re.sub(r"\\{(\w+)\\}", "[^/]+", re.escape(template))
            pattern = pattern.replace("/[^/]+", "/.+") if template.endswith("{tail}") else pattern
            if re.fullmatch(pattern, bare):
                found.append(template)
        assert found, f"{method} {bare} is not in the document"
        return min(found, key=lambda t: t.count("{"))

    async def call(self, method: str, path: str, body: Any = None, *, key: bool = True) -> Answer:
        headers = {"Authorization": f"Bearer {self.admin_key}"} if key else {}
        kw: dict[str, Any] = {} if body is None else {"json": body}
        async with self.http.request(
            method, self.url + "/api/v1" + path, headers=headers, **kw
        ) as resp:
            raw = await resp.read()
            media = resp.content_type
            parsed: Any = raw.decode(errors="replace") if raw else None
            if raw and JSON.match(media):
                parsed = json.loads(raw)
            answer = Answer(resp.status, parsed, resp.headers)
        self.conforms(method, path, answer, media)
        return answer

    def conforms(self, method: str, path: str, answer: Answer, media: str) -> None:
        template = self.template(method, path)
        op = self.doc["paths"][template][method.lower()]
        where = f"{method} {path} answered {answer.status}: {str(answer.body)[:300]}"
        assert str(answer.status) in op["responses"], where
        documented = op["responses"][str(answer.status)].get("content")
        if answer.status == 204:
            assert documented is None and answer.body is None, where
            self.covered.add((method, template))
            return
        assert documented, where
        (kind, content), *_ = documented.items()
        if kind != "*/*":
            assert media == kind, f"{where}: {media}, documented {kind}"
        if JSON.match(kind):
            schema = {**content["schema"], "components": self.doc["components"]}
            errors = sorted(
                Draft202012Validator(schema).iter_errors(answer.body), key=lambda e: e.path
            )
            assert not errors, f"{where}\n" + "\n".join(
                f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]
            )
        self.covered.add((method, template))

    def operations(self) -> set[tuple[str, str]]:
        return {(m.upper(), p) for p, ops in self.doc["paths"].items() for m in ops}


async def start(
    root: Path, name: str, role: str, http: aiohttp.ClientSession, **identity: Any
) -> Described:
    directory = root / name
    init_participant(
        directory,
        name,
        role,
        port=0,
        extra_settings={
            "dsp": {"authentication": "self-issued"},
            "identity": {**TEST_IDENTITY, **identity},
        },
        dev_mode=True,
    )
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    node = Described(connector, read_admin_key(directory), http)
    await node.load()
    return node
