"""Retrieval: ranking a market's models for a user's labelled task.

- :mod:`.encoders`, :mod:`.tasks`, :mod:`.proxy`: Know2Vec's model and query
  encoders, the tasks they learn from, and the trained proxy (Eq. 4, 13-17);
- :mod:`.transferability`: the baselines people use today (LEEP, NCE, LogME,
  H-score, NLEEP, neuralRank's silhouette).
"""
