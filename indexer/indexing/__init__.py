"""Passes over a library's files: indexing, text, regions, re-embedding for a model switch, duplicates, status."""
