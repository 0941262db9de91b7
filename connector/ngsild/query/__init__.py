"""Query languages of NGSI-LD: q (``q``), entity type expressions, scopeQ and geo-queries."""
