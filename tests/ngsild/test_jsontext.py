"""An entity's JSON text put together from its instances' texts equals encoding it whole."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from connector.ngsild.jsontext import InstanceTexts

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
instances = st.fixed_dictionaries(
    {"type": st.sampled_from(["Property", "Relationship"]), "value": values},
    optional={"datasetId": st.text(), "https://x.org/sub": st.fixed_dictionaries({"v": values})},
)
docs = st.builds(
    lambda eid, attrs, scope: {
        "id": eid,
        "type": ["https://x.org/T"],
        **attrs,
        **({"scope": scope} if scope else {}),
    },
    st.text(),
    st.dictionaries(st.text().map(lambda s: "https://x.org/" + s), st.lists(instances, max_size=3)),
    st.lists(st.text(), max_size=2),
)


def whole(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


@given(docs)
def test_entity_text_equals_one_encoding(doc: dict[str, Any]) -> None:
    assert InstanceTexts().entity(doc) == whole(doc)


def test_each_instance_is_encoded_once_and_reused() -> None:
    inst = {"type": "Property", "value": "ü"}
    doc = {"id": "urn:a", "https://x.org/p": [inst]}
    texts = InstanceTexts()
    first = texts.instance(inst)
    inst["value"] = "changed after encoding"  # a transaction never does this; shows the reuse
    assert texts.entity(doc) == '{"id":"urn:a","https://x.org/p":[' + first + "]}"
