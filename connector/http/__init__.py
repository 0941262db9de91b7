"""The connector's HTTP surface: one aiohttp application with each component mounted."""
