"""Benchmarks of our specifications against the anchors users would pick instead.

``python -m k2v_learnware.bench reuse --dataset {digits,fashion-mnist,bbc-news} [--quick] --out DIR``
runs the mixed-task reuse benchmark (LANE paper, Table 1 / Figure 3, at our scale);
``python -m k2v_learnware.bench retrieval [--quick] --out DIR`` runs the model
retrieval benchmark (Know2Vec paper, Tables 1 and 2); ``python -m k2v_learnware.bench
service [--quick] --out DIR`` loads the market service with concurrent searches and
uploads (:mod:`.service`). Each writes ``results.json``
(a fixed shape, see :mod:`k2v_learnware.bench.report`), a Markdown table and PNG plots.
"""
