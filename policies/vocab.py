"""IRIs the library understands: ODRL 2.2 core terms and the Agora data-space profile.

The Agora profile namespace is ``https://w3id.org/agora/policy#`` (prefix ``agora:``). It names the
left operands a city data space needs beyond ODRL core (NGSI-LD scope, verifiable-credential claims,
consent) and the counting windows of ``count`` constraints. Authors may write the short aliases
``ngsi-ld:entityType``, ``vc:type`` … in compact JSON; they are normalised to these IRIs on input.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

ODRL: Final = "http://www.w3.org/ns/odrl/2/"
AGORA: Final = "https://w3id.org/agora/policy#"
XSD: Final = "http://www.w3.org/2001/XMLSchema#"
RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DSPACE: Final = "https://w3id.org/dspace/2025/1/"

RDF_TYPE: Final = RDF + "type"
RDF_VALUE: Final = RDF + "value"
RDF_JSON: Final = RDF + "JSON"
DSPACE_TIMESTAMP: Final = DSPACE + "timestamp"

XSD_STRING: Final = XSD + "string"
XSD_INTEGER: Final = XSD + "integer"
XSD_DECIMAL: Final = XSD + "decimal"
XSD_DOUBLE: Final = XSD + "double"
XSD_BOOLEAN: Final = XSD + "boolean"
XSD_DATETIME: Final = XSD + "dateTime"
XSD_DATE: Final = XSD + "date"
XSD_DURATION: Final = XSD + "duration"
XSD_ANYURI: Final = XSD + "anyURI"

# Policy classes we accept (Privacy/Ticket/Assertion are out of scope for a connector).
POLICY_TYPES: Final = ("Set", "Offer", "Agreement", "Request")

OPERATORS: Final = (
    "eq",
    "neq",
    "gt",
    "gteq",
    "lt",
    "lteq",
    "isA",
    "hasPart",
    "isPartOf",
    "isAllOf",
    "isAnyOf",
    "isNoneOf",
)
LOGICAL_OPERATORS: Final = ("and", "or", "xone", "andSequence")
CONFLICT_TERMS: Final = ("perm", "prohibit", "invalid")

# ODRL core left operands (ODRL Vocabulary §4.x).
CORE_LEFT_OPERANDS: Final = (
    "absolutePosition",
    "absoluteSpatialPosition",
    "absoluteTemporalPosition",
    "absoluteSize",
    "count",
    "dateTime",
    "delayPeriod",
    "deliveryChannel",
    "elapsedTime",
    "event",
    "fileFormat",
    "industry",
    "language",
    "media",
    "meteredTime",
    "payAmount",
    "percentage",
    "product",
    "purpose",
    "recipient",
    "relativePosition",
    "relativeSpatialPosition",
    "relativeTemporalPosition",
    "relativeSize",
    "resolution",
    "spatial",
    "spatialCoordinates",
    "systemDevice",
    "timeInterval",
    "unitOfCount",
    "version",
    "virtualLocation",
)

# ODRL 2.2 actions and the action that includes them (odrl:includedIn), as the 2.2 vocabulary
# writes them: every common action is included in ``use`` except the ownership transfers (``give``,
# ``sell`` ⊂ ``transfer``) and ``extract`` (⊂ ``reproduce``). Anything not listed is only matched
# by equality.
ACTION_INCLUDED_IN: Final[dict[str, str | None]] = {
    "use": None,
    "transfer": None,
    **{
        a: "use"
        for a in (
            "acceptTracking aggregate annotate anonymize archive attribute compensate "
            "concurrentUse delete derive digitize display distribute ensureExclusivity execute "
            "grantUse include index inform install modify move nextPolicy obtainConsent play "
            "present print read reproduce reviewPolicy stream synchronize textToSpeech transform "
            "translate uninstall watermark"
        ).split()
    },
    "extract": "reproduce",
    "give": "transfer",
    "sell": "transfer",
}

CC: Final = "http://creativecommons.org/ns#"
# Creative Commons actions the 2.2 vocabulary defines as included in ``use`` (``CommericalUse`` is
# spelled as the vocabulary spells it; ``CommercialUse`` is what ``commercialize`` matches).
CC_ACTIONS: Final = tuple(
    CC + n
    for n in (
        "Attribution CommercialUse CommericalUse DerivativeWorks Distribution Notice "
        "Reproduction ShareAlike Sharing SourceCode"
    ).split()
)

# Deprecated 2.2 actions with the skos:exactMatch the vocabulary keeps for them: a rule on either
# name governs the other. (lease, lend, preview, secondaryUse, adHocShare and extractChar/Page/Word
# have no exact match and stay matched by equality.)
DEPRECATED_ACTIONS: Final[dict[str, str]] = {
    "append": ODRL + "modify",
    "appendTo": ODRL + "modify",
    "write": ODRL + "modify",
    "writeTo": ODRL + "modify",
    "copy": ODRL + "reproduce",
    "export": ODRL + "transform",
    "license": ODRL + "grantUse",
    "pay": ODRL + "compensate",
    "attachPolicy": CC + "Notice",
    "attachSource": CC + "SourceCode",
    "shareAlike": CC + "ShareAlike",
    "commercialize": CC + "CommercialUse",
    "share": CC + "Sharing",
}
OTHER_DEPRECATED_ACTIONS: Final = (
    "lease lend preview secondaryUse adHocShare extractChar extractPage extractWord".split()
)

ODRL_TERMS: Final = frozenset(
    (
        *OPERATORS,
        *LOGICAL_OPERATORS,
        *CONFLICT_TERMS,
        *CORE_LEFT_OPERANDS,
        *ACTION_INCLUDED_IN,
        *DEPRECATED_ACTIONS,
        *OTHER_DEPRECATED_ACTIONS,
    )
)

# Agora profile left operands and counting windows.
ENTITY_TYPE: Final = AGORA + "entityType"
ATTRIBUTE: Final = AGORA + "attribute"
AREA: Final = AGORA + "area"
CREDENTIAL_TYPE: Final = AGORA + "credentialType"
ROLE: Final = AGORA + "role"
CLAIM: Final = AGORA + "claim"
CONSENT: Final = AGORA + "consent"
CLAIM_PATH: Final = AGORA + "claimPath"

WINDOWS: Final = ("perHour", "perDay", "perWeek", "perMonth", "perYear")

# Short names authors write in compact JSON → IRIs.
ALIASES: Final[dict[str, str]] = {
    "ngsi-ld:entityType": ENTITY_TYPE,
    "ngsi-ld:attribute": ATTRIBUTE,
    "ngsi-ld:area": AREA,
    "vc:type": CREDENTIAL_TYPE,
    "vc:role": ROLE,
    "vc:claim": CLAIM,
    "consent": CONSENT,
    **{f"agora:{n}": AGORA + n for n in ("entityType", "attribute", "area", "credentialType")},
    **{f"agora:{n}": AGORA + n for n in ("role", "claim", "consent", "claimPath", *WINDOWS)},
    **{n: AGORA + n for n in WINDOWS},
    # Errata in the published ODRL 2.2 JSON-LD context: "neq" maps to odrl:neg and "industry"
    # to "odrl:industry:". Documents compacted with it carry those IRIs; read them as meant.
    ODRL + "neg": ODRL + "neq",
    ODRL + "industry:": ODRL + "industry",
}

PROFILE_SHORT_NAMES: Final[dict[str, str]] = {
    ENTITY_TYPE: "ngsi-ld:entityType",
    ATTRIBUTE: "ngsi-ld:attribute",
    AREA: "ngsi-ld:area",
    CREDENTIAL_TYPE: "vc:type",
    ROLE: "vc:role",
    CLAIM: "vc:claim",
    CONSENT: "consent",
}


def odrl(name: str) -> str:
    """The ODRL IRI of a core term."""
    return ODRL + name


@lru_cache(maxsize=8192)
def normalize_iri(value: str) -> str:
    """Map an alias, an ODRL local name or an erratum IRI to the IRI the engine keys on.

    DSP 2025-1 messages write ODRL terms bare (``"leftOperand": "dateTime"``) although its context
    defines no ``@vocab``; we read such bare ODRL names as ODRL IRIs.
    """
    mapped = ALIASES.get(value)
    if mapped is not None:
        return mapped
    if ":" not in value and value in ODRL_TERMS:
        return ODRL + value
    if value.startswith("odrl:"):
        return normalize_iri(ODRL + value[5:])
    return value


def short(iri: str) -> str:
    """A readable short name for an IRI (for reports and explanations)."""
    if iri.startswith(ODRL):
        return iri[len(ODRL) :]
    if iri in PROFILE_SHORT_NAMES:
        return PROFILE_SHORT_NAMES[iri]
    if iri.startswith(AGORA):
        return "agora:" + iri[len(AGORA) :]
    return iri
