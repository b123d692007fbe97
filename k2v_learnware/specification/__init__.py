"""Specification stage: what a developer submits to describe a model without its data.

- :mod:`.lane`: the LANE specification (``LANESpecification``, ``generate_lane_spec``);
- :mod:`.condensation`: LANE's condensation by matching class-mean embeddings (Eq. 7);
- :mod:`.networks`: the random network families LANE embeds data with;
- :mod:`.know2vec`: the Know2Vec specification, a model's boundary graph;
- :mod:`.boundary`: the black-box bisection that finds boundary samples;
- :mod:`.formats`: the JSON files specifications are stored in, checked against ``specs/``.

Nothing is imported here, so ``import k2v_learnware.specification`` stays cheap.
"""
