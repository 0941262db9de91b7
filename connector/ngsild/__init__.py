"""The embedded NGSI-LD broker (ETSI GS CIM 009 v1.8) served under ``/ngsi-ld/v1``.

Module map: ``errors`` (NGSI-LD problem types), ``context`` (bundled @contexts, term maps),
``model`` (attribute validation and the stored form), ``render`` (output formats),
``query`` (q, scopeQ, type expressions, geo-queries), ``store`` (SQLAlchemy tables and
queries), ``events`` (change feed), ``pep`` (policy enforcement seam), ``service`` (operations
used by every handler), ``api`` (HTTP handlers), ``component`` (wiring into the connector).
"""
