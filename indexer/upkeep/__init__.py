"""Clients of Library that keep it current: the folder watcher and the consistency doctor."""
