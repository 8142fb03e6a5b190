"""The approximate nearest-neighbour index, a cache of the store's vectors: hnswlib or projected inverted lists."""
