"""Defaults measured on data, kept import-light so settings and `--help` can read them.

MIN_CONFIDENCE: answer only when the abstention model (retrieval/abstention.py) gives P(answerable)
at least this. 0.5 is the model's own decision boundary; its weights were fitted by
scripts/train_abstention.py on indexes of many sizes (retrieval/abstention.json holds the trade-off).
"""

MIN_CONFIDENCE = 0.5
