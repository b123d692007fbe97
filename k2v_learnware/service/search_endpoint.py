"""Market service: ``POST /engine/search_learnware``, with the checks a search needs beyond the file's own.

A LANE requirement names the random-network family its search embeds in
(``embedding``: kind, width, depth, number of networks, seed). The market's
searcher builds that family and keeps every learnware's class means in it, so
a requirement in a family of its own choosing would make the server build
networks of any size the schema allows (width 4096, depth 16, 64 networks: tens
of GB) and keep the market's class means once more for each family sent. The
service therefore searches only in the families the market stores its
learnwares' class means in (:func:`~k2v_learnware.market.lane_means.stored_family_settings`:
the spec's own fixed family, or the fixed twin of a format-1 one); a
requirement built with ``generate_lane_spec``'s defaults is in it. The family
is read from the file's ``embedding`` field, before any network is built.

A search that fails on the requirement's numbers (the mixture-weight QP cannot
solve it, a score comes out NaN) is the request's fault: a 400 saying so,
never a 500 or a reply JSON cannot carry.

Paging follows Beimingwu: ``limit`` and ``page`` pick one page of the single
results, the mixture comes with page 0 only (a client reading every page meets
it once), and a paged reply says its ``page`` and ``limit``; a search without
``limit`` answers the whole list. A page of ``limit`` results needs only the
first ``(page + 1) * limit`` ranked (the market's searcher ranks by branch and
bound, so ranking all 1000 would solve a QP per learnware); but the searcher
also caps the mixture at that number, so at least ``MIN_RANKED`` are ranked,
lest a page of one cut the mixture to one learnware. The stock client
sends no ``limit`` when called with ``page_size=None`` (``requests`` drops a
``None`` form field), which its own tests use to list every learnware, so a
default page size there would silently cut the list.
"""

from __future__ import annotations

import math

from fastapi import File, Form, UploadFile

from .._logging import module_logger
from ..market.lane_means import stored_family_settings
from ..market.searchers import same_objects
from .replies import BAD_REQUEST, NOT_FOUND, ServiceError, ok
from .request_checks import MAX_SEMANTIC_CHARS, semantic_spec
from .uploads import read_bounded
from .user_specs import read_user_spec

logger = module_logger("k2v_learnware.service")
MAX_SPEC_BYTES = 16 << 20
#: The most single results one search ranks (a page beyond it is empty; a whole-list search stops there).
MAX_RESULTS = 1000
#: The fewest results a search ranks (the stock client's default page size): the mixture's largest size.
MIN_RANKED = 10


def describe(family: tuple) -> str:
    config, seed, num_nets = family
    return (f"{config.kind} width {config.width} depth {config.depth}, {num_nets} networks, family seed {seed}, "
            f"input shape {list(config.input_shape)}")


class MarketFamilies:
    """The families the market stores class means in, per input size; recomputed when its learnwares change."""

    def __init__(self, organizer):
        self.organizer = organizer
        self._known: tuple[list, dict] | None = None  # (learnwares, {input size: {family}})

    def by_size(self) -> dict:
        from ..specification.lane import lane_spec_of

        learnwares = self.organizer.get_learnwares()
        if self._known is not None and same_objects(self._known[0], learnwares):
            return self._known[1]
        families: dict[int, set] = {}
        for learnware in learnwares:
            spec = lane_spec_of(learnware)
            if spec is not None:
                families.setdefault(math.prod(spec.input_shape), set()).add(stored_family_settings(spec.embedding))
        self._known = (list(learnwares), families)
        return families

    def check(self, requirement) -> None:
        """Refuse a LANE requirement whose family is not one the market stores its class means in."""
        stored = self.by_size().get(math.prod(requirement.input_shape))
        if not stored:  # no learnware of this size: the searcher answers nothing and builds no network
            return
        try:
            family = stored_family_settings(requirement.embedding)
        except (KeyError, TypeError, ValueError) as err:
            raise ServiceError(BAD_REQUEST, f"statistical_specification: its embedding is not a family: "
                                            f"{err}") from None
        if family not in stored:
            expected = "; ".join(sorted(describe(f) for f in stored))
            raise ServiceError(BAD_REQUEST, f"this market searches LANE requirements of "
                                            f"{math.prod(requirement.input_shape)} features in the embedding "
                                            f"family {expected}; the requirement's is {describe(family)}: build "
                                            "it with generate_lane_spec's default width, depth, num_nets and "
                                            "family_seed")


def install_search(app, market, lock) -> None:
    """Add the search endpoint to ``app``; calls into ``market`` hold ``lock``."""
    from learnware.market import BaseUserInfo

    families = MarketFamilies(market.learnware_organizer)

    @app.post("/engine/search_learnware")
    def search(statistical_specification: UploadFile | None = File(None),
               semantic_specification: str = Form("{}", max_length=MAX_SEMANTIC_CHARS),
               limit: int | None = Form(None, ge=1, le=MAX_RESULTS), page: int = Form(0, ge=0, le=10**6)):
        semantic = semantic_spec(semantic_specification)
        stat_info = {}
        if statistical_specification is not None:
            kind, spec = read_user_spec(read_bounded(statistical_specification, MAX_SPEC_BYTES, "the specification"))
            stat_info[kind] = spec
        try:
            with lock:
                if "LANESpecification" in stat_info:
                    families.check(stat_info["LANESpecification"])
                if "Know2VecQuery" in stat_info:  # else the stock searcher would answer on semantics alone
                    market.know2vec_searcher.reload_proxy()
                    if market.know2vec_searcher.proxy is None:
                        raise ServiceError(NOT_FOUND, "this market has no Know2Vec proxy to rank learnwares for a "
                                                      "Know2VecQuery; its operator trains one with "
                                                      "`k2v-learnware fit-proxy`")
                result = market.search_learnware(BaseUserInfo(semantic_spec=semantic, stat_info=stat_info),
                                                 max_search_num=MAX_RESULTS if limit is None
                                                 else min(max((page + 1) * limit, MIN_RANKED), MAX_RESULTS))
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


def search_reply(result, page: int, limit: int | None) -> dict:
    """The reply's ``data``: single results of the page (all of them when ``limit`` is None), the mixture and
    its weights on page 0 (or with the whole list), all finite."""
    def entry(learnware, score, **extra):  # a semantic-only search has no score
        return {"learnware_id": learnware.id, "semantic_specification": learnware.get_specification()
                .get_semantic_spec(), "matching": None if score is None else _finite(score, "score"), **extra}

    all_singles = result.get_single_results()
    singles = all_singles if limit is None else all_singles[page * limit:(page + 1) * limit]
    multiple, weights = [], {}
    mixes = result.get_multiple_results() if limit is None or page == 0 else []
    if mixes:
        mix = mixes[0]
        mix_weights = getattr(mix, "weights", None) or [1.0 / len(mix.learnwares)] * len(mix.learnwares)
        weights = {lw.id: _finite(w, "mixture weight") for lw, w in zip(mix.learnwares, mix_weights)}
        multiple = [entry(lw, mix.score, weight=weights[lw.id]) for lw in mix.learnwares]
    paging = {} if limit is None else {"page": page, "limit": limit}
    return {"learnware_list_single": [entry(item.learnware, item.score) for item in singles],
            "learnware_list_multi": multiple, "mixture_weights": weights, **paging}
