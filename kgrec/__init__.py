"""kgrec: a knowledge-graph recommender for e-commerce."""
