"""Compatibility path: ``k2v_learnware.proxy`` as the README and earlier releases import it.

Know2Vec's proxy lives in :mod:`k2v_learnware.retrieval` (encoders, tasks, proxy).
"""

from .retrieval.proxy import (
    FORMAT_VERSION,
    Know2VecProxy,
    Know2VecQuery,
    LabelledTaskSampler,
    ModelEncoder,
    ProxyNetwork,
    QueryEncoder,
    TaskSampler,
)

__all__ = ["FORMAT_VERSION", "Know2VecProxy", "Know2VecQuery", "LabelledTaskSampler", "ModelEncoder",
           "ProxyNetwork", "QueryEncoder", "TaskSampler"]
