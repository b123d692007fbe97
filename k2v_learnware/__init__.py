"""k2v-learnware: LANE and Know2Vec specifications for the learnware (Beimingwu) market.

The folders follow the learnware paradigm, as ``learnware``'s own do:
``specification/`` (what a developer submits) -> ``packaging`` (the zip) ->
``market/`` (store, check, search) with ``search/`` (mixture weights) ->
``reuse/`` (use what the search returned); ``retrieval/`` (Know2Vec's proxy and
the transferability baselines), ``compare/`` and ``plots`` (researchers'
tools), ``cli/`` and ``bench/``.

Importing the package is cheap; the parts that need ``learnware`` or torch are
loaded on first use of the names below.
"""

from importlib import import_module

from ._deferred_imports import defer_llm_specifications

__version__ = "0.1.0"

defer_llm_specifications()  # learnware's LLM specs (trl, transformers, lm_eval) load only if used

_LAZY = {
    "LANESpecification": "k2v_learnware.specification.lane",
    "generate_lane_spec": "k2v_learnware.specification.lane",
    "Know2VecSpecification": "k2v_learnware.specification.know2vec",
    "generate_know2vec_spec": "k2v_learnware.specification.know2vec",
    "pack_learnware": "k2v_learnware.packaging",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'k2v_learnware' has no attribute {name!r}")


def __dir__():
    return __all__
