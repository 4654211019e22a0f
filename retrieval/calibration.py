"""Constants measured on data, kept import-light so settings and --help can read them.

MIN_SCORE: a question is answered only when some candidate sentence's dense score reaches it.
scripts/bench_abstention.py (SQuAD 2.0 dev half, 8 titles indexed, 600 questions per group) found
0.475 maximises balanced accuracy between answerable questions (93.8% answered) and questions
about articles not in the index (4.8% answered); at 0.35, 35% of those were still answered.
"""

MIN_SCORE = 0.475
