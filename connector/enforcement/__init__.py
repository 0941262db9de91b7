"""Usage control in the data plane (issue 5): the policy enforcement point for NGSI-LD access
under DSP agreements, its provenance records and duties, and the consumer's received-data record.

Module map: ``pep`` (decide and narrow), ``agreements`` (compile once per agreement),
``evidence`` (ledger records, inform/attribute duties), ``received`` (consumer copies and the
``delete`` duty job), ``tables``, ``component``.
"""
