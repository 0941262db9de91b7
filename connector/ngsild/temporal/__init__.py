"""NGSI-LD temporal API (GS CIM 009 §5.6.11-5.6.12, §6.18-6.22): every attribute change kept as
history rows, queried with timerel/lastN and rendered in the temporal representations."""
