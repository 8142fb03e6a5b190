"""Foundations every layer uses: settings and folders, paths, logs, atomic files, errors, filters, progress and pass controls."""
