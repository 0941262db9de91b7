"""Identity and trust for a running connector: the DID document, the DCP Credential Service,
the verifier wiring other components authenticate callers with, and the authority role.

Other components use :class:`connector.trust.component.Trust` from ``ctx.components["trust"]``.
"""
