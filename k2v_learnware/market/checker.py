"""Market stage: the statistical checker a submitted LANE learnware must pass.

Any learnware without a LANE specification goes to the stock ``EasyStatChecker``.
"""

from __future__ import annotations

import numpy as np
from learnware.market import EasyStatChecker
from learnware.market.base import BaseChecker

from ..specification.lane import lane_spec_of

LANE = "LANESpecification"


class K2VStatChecker(BaseChecker):
    """Checks LANE learnwares itself; any other learnware goes to the stock ``EasyStatChecker``.

    A LANE learnware is USABLE when its spec validates (it was loaded through
    the schema), its self-distance is finite (0), its input shape matches the
    model's and, for table data, the semantic specification's input
    ``Dimension`` (the stock checker refuses a stock learnware whose model and
    semantic ``Input`` disagree; a LANE one must not state a size its model
    cannot take either), and the model predicts one output per sample on a few
    samples drawn from the spec's class Gaussians. A learnware that also carries a stock
    specification must pass the stock checker as well.
    """

    SAMPLES_PER_CLASS = 2

    def __init__(self):
        self._stock = EasyStatChecker()

    def reset(self, **kwargs):
        self._stock.reset(**kwargs)

    def __call__(self, learnware):
        spec = lane_spec_of(learnware)
        if spec is None:
            return self._stock(learnware)
        try:
            learnware.instantiate_model()
            model = learnware.get_model()
            model_shape = tuple(getattr(model, "input_shape", ()) or ())
            if model_shape and int(np.prod(model_shape)) != int(np.prod(spec.input_shape)):
                return self.INVALID_LEARNWARE, (f"model input shape {model_shape} does not match the "
                                                f"LANE specification's {spec.input_shape}")
            problem = semantic_input_problem(learnware.get_specification().get_semantic_spec(), spec.input_shape)
            if problem:
                return self.INVALID_LEARNWARE, problem
            distance = spec.dist(spec)
            if not np.isfinite(distance):
                return self.INVALID_LEARNWARE, f"LANE specification self-distance is not finite ({distance})"
            probe = np.concatenate([spec.sample_class(c, self.SAMPLES_PER_CLASS, random_state=0)
                                    for c in spec.classes])
            outputs = np.asarray(learnware.predict(probe))
            if len(outputs) != len(probe):
                return self.INVALID_LEARNWARE, (f"model returned {len(outputs)} outputs for {len(probe)} "
                                                "samples drawn from its LANE specification")
        except Exception as err:
            return self.INVALID_LEARNWARE, f"LANE check failed: {type(err).__name__}: {err}"
        others = set(learnware.get_specification().get_stat_spec()) - {LANE}
        if others:
            status, message = self._stock(learnware)
            if status == self.INVALID_LEARNWARE:
                return status, f"stock check of {sorted(others)} failed: {message}"
        return self.USABLE_LEARNWARE, "K2VStatChecker success"


def semantic_input_problem(semantic_spec, input_shape) -> str | None:
    """Why a table learnware's semantic ``Input.Dimension`` disagrees with its LANE input shape, or None."""
    semantic_spec = semantic_spec or {}
    if (semantic_spec.get("Data") or {}).get("Values") != ["Table"] or "Input" not in semantic_spec:
        return None
    given = semantic_spec["Input"]
    dimension = given.get("Dimension") if isinstance(given, dict) else given
    features = int(np.prod(input_shape))
    try:
        same = int(dimension) == features
    except (TypeError, ValueError):
        same = False
    if same:
        return None
    return (f"the semantic specification's Input.Dimension {str(dimension)[:40]} does not match the LANE "
            f"specification's {features} input features")
