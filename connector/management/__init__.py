"""The management API (`/api/v1`): plain JSON for the participant's own applications."""
