"""Property-based tests: whatever a file or an array holds, the loaders and the generator either give a
finite, consistent specification or fail with our format error (files) / ValueError or TypeError (data)."""

from __future__ import annotations

import copy
import functools
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from k2v_learnware import LANESpecification, Know2VecSpecification, generate_know2vec_spec, generate_lane_spec
from k2v_learnware.specification.formats import SpecificationFormatError

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@functools.cache
def valid_lane() -> dict:
    rng = np.random.default_rng(0)
    X = rng.random((60, 6)).astype(np.float32)
    return generate_lane_spec(X, np.arange(60) % 3, num_per_class=2, iterations=2, verbose=False).to_dict()


@functools.cache
def valid_know2vec() -> dict:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.random((60, 4)).astype(np.float32)
    model = LogisticRegression().fit(X, (X[:, 0] > 0.5).astype(int) + (X[:, 1] > 0.5))
    return generate_know2vec_spec(model, X).to_dict()


def _paths(doc, prefix=()):
    """Every path into ``doc`` (keys and list indices), the document itself first."""
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc[:3]):
            yield from _paths(value, prefix + (i,))


def _replaced(doc, path, value):
    doc = copy.deepcopy(doc)
    if not path:
        return value
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _load(cls, tmp_path, text):
    path = tmp_path / "spec.json"
    path.write_text(text)
    spec = cls()
    try:
        spec.load(path)
    except SpecificationFormatError:
        return None
    return spec


def _check_lane(spec):
    if spec is not None:
        assert np.all(np.isfinite(spec.z)) and len(spec.labels) == len(spec.z)
        assert len(set(spec.classes)) == len(spec.classes) and set(spec.labels) <= set(spec.classes)


@SETTINGS
@given(data=st.data(), value=JSON)
def test_a_lane_file_with_any_field_replaced_loads_consistently_or_is_refused(tmp_path, data, value):
    doc = valid_lane()
    path = data.draw(st.sampled_from(list(_paths(doc))))
    _check_lane(_load(LANESpecification, tmp_path, json.dumps(_replaced(doc, path, value))))


@SETTINGS
@given(text=st.text(max_size=200) | st.sampled_from(["NaN", "[Infinity]", '{"z": -Infinity}', "1e999", "[" * 5000]))
def test_any_text_as_a_lane_file_is_refused_with_our_format_error(tmp_path, text):
    assert _load(LANESpecification, tmp_path, text) is None


@SETTINGS
@given(data=st.data(), value=JSON)
def test_a_know2vec_file_with_any_field_replaced_loads_consistently_or_is_refused(tmp_path, data, value):
    doc = valid_know2vec()
    path = data.draw(st.sampled_from(list(_paths(doc))))
    spec = _load(Know2VecSpecification, tmp_path, json.dumps(_replaced(doc, path, value)))
    if spec is not None:
        present = np.array(spec.present)
        assert spec.nodes.shape[:2] == (len(spec.classes), len(spec.classes)) and len(present) == len(spec.classes)
        answers = spec.probe_predictions  # one class index (or -1) per probe row, or none at all
        assert answers is None or (len(answers) == spec.settings["probe_size"]
                                   and -1 <= answers.min() and answers.max() < len(spec.classes))


def _innermost_file(err: BaseException) -> str:
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


FLOATS = st.floats(width=64, allow_nan=True, allow_infinity=True) | st.sampled_from([1e30, -1e30, 1e300, 0.0])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(X=arrays(np.float64, st.tuples(st.integers(0, 12), st.integers(0, 5)), elements=FLOATS),
       labels=st.lists(st.integers(0, 2) | st.text(max_size=2), max_size=12),
       lr=st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.05, 1e30]))
def test_generate_lane_spec_gives_a_finite_spec_or_a_clear_error(X, labels, lr):
    try:
        spec = generate_lane_spec(X, labels, num_per_class=1, iterations=2, lr=lr, verbose=False)
    except (ValueError, TypeError) as err:
        assert str(err)
        where = _innermost_file(err)  # our own check, not numpy, scikit-learn or torch deep inside the work
        assert "/k2v_learnware/" in where.replace("\\", "/"), f"{type(err).__name__} raised in {where}: {err}"
        return
    assert np.all(np.isfinite(spec.z)) and spec.z.shape[1:] == X.shape[1:]
