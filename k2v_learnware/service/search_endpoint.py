"""Market service: ``POST /engine/search_learnware``, and the reply it gives.

A search that fails on the requirement's numbers (the mixture-weight QP cannot
solve it, a score comes out NaN) is the request's fault: a 400 saying so,
never a 500 or a reply JSON cannot carry.
"""

from __future__ import annotations

import math

from fastapi import File, Form, UploadFile

from .._logging import module_logger
from .replies import BAD_REQUEST, NOT_FOUND, ServiceError, ok
from .request_checks import MAX_SEMANTIC_CHARS, semantic_spec
from .uploads import read_bounded
from .user_specs import read_user_spec

logger = module_logger("k2v_learnware.service")
MAX_SPEC_BYTES = 16 << 20


def install_search(app, market, lock) -> None:
    """Add the search endpoint to ``app``; calls into ``market`` hold ``lock``."""
    from learnware.market import BaseUserInfo

    @app.post("/engine/search_learnware")
    def search(statistical_specification: UploadFile | None = File(None),
               semantic_specification: str = Form("{}", max_length=MAX_SEMANTIC_CHARS),
               limit: int = Form(10, ge=1, le=1000), page: int = Form(0, ge=0, le=10**6)):
        semantic = semantic_spec(semantic_specification)
        stat_info = {}
        if statistical_specification is not None:
            kind, spec = read_user_spec(read_bounded(statistical_specification, MAX_SPEC_BYTES, "the specification"))
            stat_info[kind] = spec
        try:
            with lock:
                if "Know2VecQuery" in stat_info:  # else the stock searcher would answer on semantics alone
                    market.know2vec_searcher.reload_proxy()
                    if market.know2vec_searcher.proxy is None:
                        raise ServiceError(NOT_FOUND, "this market has no Know2Vec proxy to rank learnwares for a "
                                                      "Know2VecQuery; its operator trains one with "
                                                      "`k2v-learnware fit-proxy`")
                result = market.search_learnware(BaseUserInfo(semantic_spec=semantic, stat_info=stat_info),
                                                 max_search_num=min((page + 1) * limit, 1000))
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError) as err:
            raise ServiceError(BAD_REQUEST, f"the search could not use this request: {type(err).__name__}: "
                                            f"{str(err)[:500]}") from None
        except RuntimeError as err:  # the mixture-weight QP found no solution for this requirement's numbers
            logger.warning(f"a search failed on its requirement: {type(err).__name__}: {err}")
            raise ServiceError(BAD_REQUEST, f"the market could not search with this requirement (are its points "
                                            f"all alike, or its values extreme?): {str(err)[:500]}") from None
        return ok(**search_reply(result, page, limit))


def _finite(value, what: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ServiceError(BAD_REQUEST, f"the search of this requirement gave a non-finite {what}; check its "
                                        "numbers (values near the limits of a float overflow in the embedding)")
    return value


def search_reply(result, page: int, limit: int) -> dict:
    """The reply's ``data``: single results of the page, the mixture and its weights, all finite."""
    def entry(learnware, score, **extra):  # a semantic-only search has no score
        return {"learnware_id": learnware.id, "semantic_specification": learnware.get_specification()
                .get_semantic_spec(), "matching": None if score is None else _finite(score, "score"), **extra}

    singles = result.get_single_results()[page * limit:(page + 1) * limit]
    multiple, weights = [], {}
    mixes = result.get_multiple_results()
    if mixes:
        mix = mixes[0]
        mix_weights = getattr(mix, "weights", None) or [1.0 / len(mix.learnwares)] * len(mix.learnwares)
        weights = {lw.id: _finite(w, "mixture weight") for lw, w in zip(mix.learnwares, mix_weights)}
        multiple = [entry(lw, mix.score, weight=weights[lw.id]) for lw in mix.learnwares]
    return {"learnware_list_single": [entry(item.learnware, item.score) for item in singles],
            "learnware_list_multi": multiple, "mixture_weights": weights,
            "total_single": len(result.get_single_results())}
