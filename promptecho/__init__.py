"""promptecho: record and replay LLM API calls in Python tests."""
