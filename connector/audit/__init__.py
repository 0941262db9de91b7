"""``agora audit``: check connectors' provenance logs from outside, trusting neither party.

``access`` authenticates the auditor (a connector's admin key, or DCP tokens minted per request
by the auditor's own connector), ``party`` finds a connector's DID and ledger key, ``checks`` runs
the ledger library's audits against the remote ledger API, ``output`` prints and writes reports,
``cli`` is the click group registered in :mod:`connector.cli`.
"""
