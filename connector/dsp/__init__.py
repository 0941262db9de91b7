"""Dataspace Protocol 2025-1 control plane: catalog, contract negotiation and transfer process.

The wire format follows the DSP 2025-1 HTTPS binding to the letter so that other
implementations (e.g. Eclipse EDC) interoperate; see ``connector/dsp/component.py`` for the map.
"""
