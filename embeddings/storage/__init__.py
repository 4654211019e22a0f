"""The index on disk: SQLite for the text, FAISS for the vectors, committed whole (store.py says how)."""
