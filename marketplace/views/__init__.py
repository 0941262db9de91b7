"""The standard views of one offering model: the DSP catalog offer and TMF620 Product Catalog.

Both are derived from :class:`marketplace.offerings.Offering`; nothing is written by hand twice.
"""
