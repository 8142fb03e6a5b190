"""One search from query to hits: the query vector, candidates and ranking, words, the relevance bar,
explanations, ordering, saved searches."""
