"""HTTP handlers of the NGSI-LD API, one module per resource family."""
