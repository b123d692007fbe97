"""Compatibility path: ``k2v_learnware.know2vec`` as the README and earlier releases import it.

The Know2Vec specification lives in :mod:`k2v_learnware.specification.know2vec`.
"""

from .specification.know2vec import FORMAT_VERSION, Know2VecSpecification, generate_know2vec_spec

__all__ = ["FORMAT_VERSION", "Know2VecSpecification", "generate_know2vec_spec"]
