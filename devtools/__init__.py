"""Developer tools of the project (not shipped)."""
