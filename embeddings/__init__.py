"""Articles → clean text → sentences and passages → vectors → an index on disk."""
