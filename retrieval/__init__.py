"""Question → passages → answer sentences with citations."""
