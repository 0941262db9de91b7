"""The connector's provenance log: every transaction recorded, signed, proven and anchored."""
