"""The library's truth in SQLite: schema and migrations, typed rows, every SQL statement, the write lock."""
