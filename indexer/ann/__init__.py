"""The approximate nearest-neighbour index: a cache of a folder library's vectors (hnswlib or projected
inverted lists), or the server's pgvector HNSW."""
