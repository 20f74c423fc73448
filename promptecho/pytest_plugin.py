"""pytest plugin: fixtures that hand out recording clients (being written)."""
