"""The library's truth in SQLite (a folder) or PostgreSQL with pgvector (a server library): schema
and migrations, typed rows, every SQL statement, the writers' lock."""
