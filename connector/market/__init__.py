"""The marketplace component: stores ``marketplace`` offerings and mounts their views."""
