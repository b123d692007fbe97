"""A LANE spec's class means of the developer's rows (format 4): exact, searched, stored, and checked on load."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from k2v_learnware import LANESpecification, generate_lane_spec
from k2v_learnware.search import mixture_weights
from k2v_learnware.specification import kept_class_means
from k2v_learnware.specification.formats import SpecificationFormatError
from k2v_learnware.specification.lane_file import family_output_width


@pytest.fixture(scope="module")
def tasks():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    # 300 rows of two classes: over the 100 rows per class a spec needs before it keeps their means
    return [(X[np.isin(y, t)][:300], y[np.isin(y, t)][:300]) for t in [(0, 1), (2, 3), (4, 5)]], (X, y)


@pytest.fixture(scope="module")
def specs(tasks):
    data, _ = tasks
    return [generate_lane_spec(X, y, num_per_class=4, iterations=3, seed=i, verbose=False)
            for i, (X, y) in enumerate(data)]


def _rows_means(spec, X, y):
    family = spec.embedding_family()
    embedded = family.embed_fixed(X)
    return np.stack([embedded[y == c].mean(axis=0) for c in spec.classes])


def test_the_spec_keeps_the_exact_class_means_of_the_developer_rows(tasks, specs):
    data, _ = tasks
    for spec, (X, y) in zip(specs, data):
        assert spec.data_class_means.dtype == np.float32
        assert np.allclose(spec.data_class_means, _rows_means(spec, X, y), rtol=1e-5, atol=1e-6)
        assert spec.condensation["data_means_seconds"] >= 0
        # the search reads them in the spec's own family
        assert np.array_equal(spec.class_mean_embeddings(), spec.data_class_means)


def test_means_are_accumulated_in_chunks_without_changing_them(tasks, monkeypatch):
    (X, y), *_ = tasks[0]
    whole = generate_lane_spec(X, y, num_per_class=2, iterations=0, verbose=False)
    monkeypatch.setattr(kept_class_means, "DATA_CHUNK", 7)
    chunked = generate_lane_spec(X, y, num_per_class=2, iterations=0, verbose=False)
    assert np.allclose(whole.data_class_means, chunked.data_class_means, rtol=1e-6, atol=1e-7)


def test_the_search_uses_them_and_a_requirement_of_real_rows_is_found_exactly(tasks, specs):
    data, _ = tasks
    # a user holding task 0's rows twice and task 2's once: its mean embedding is exactly 2/3 m0 + 1/3 m2
    user = np.concatenate([data[0][0], data[0][0], data[2][0]])
    found = mixture_weights(user, specs)
    assert np.abs(found.learnware_weights - [2 / 3, 0, 1 / 3]).sum() < 1e-3
    plain = [copy.copy(s) for s in specs]
    for spec in plain:
        spec.data_class_means = None
        spec._forget_derived()
    on_points = mixture_weights(user, plain)  # 3 condensation steps: the points' means are far off
    assert np.abs(on_points.learnware_weights - [2 / 3, 0, 1 / 3]).sum() > 10 * np.abs(
        found.learnware_weights - [2 / 3, 0, 1 / 3]).sum()


def test_an_index_built_first_reads_the_rows_means_and_leaves_them_in_place(tasks, specs):
    """An index of specs never asked for their class means read the points' means and kept them in the specs
    (the searcher's first search did, so its weights and every later ``mixture_weights`` left the rows' means)."""
    from k2v_learnware.bench.reuse_parties import in_memory_learnware
    from k2v_learnware.market import user_info
    from k2v_learnware.market.searchers import LANEStatSearcher
    from k2v_learnware.search.class_mean_index import ClassMeanIndex

    data, _ = tasks
    user = np.concatenate([data[0][0], data[0][0], data[2][0]])
    fresh = [copy.copy(s) for s in specs]
    for spec in fresh:
        spec._forget_derived()  # as built or loaded: nothing asked of them yet
    family = fresh[0].embedding_family()
    index = ClassMeanIndex.from_specs(fresh, family)
    assert np.array_equal(index.matrix, np.concatenate([s.data_class_means for s in specs]))
    assert all(spec.has_class_mean_embeddings(family.key) for spec in fresh)
    assert all(np.array_equal(s.class_mean_embeddings(), s.data_class_means) for s in fresh)

    fresh = [copy.copy(s) for s in specs]
    for spec in fresh:
        spec._forget_derived()
    learnwares = [in_memory_learnware(f"lw{i}", None, 64, {"LANESpecification": s}) for i, s in enumerate(fresh)]
    requirement = generate_lane_spec(user, None, num_per_class=2, iterations=0, verbose=False)
    mixture = LANEStatSearcher(None)(learnwares, user_info(requirement)).get_multiple_results()[0].mixture
    expected = mixture_weights(requirement, specs).learnware_weights
    assert np.allclose(mixture.learnware_weights, expected, atol=1e-6)
    assert np.abs(mixture.learnware_weights - [2 / 3, 0, 1 / 3]).sum() < 1e-3


def test_they_round_trip_and_the_summary_says_so(tmp_path, specs):
    spec = specs[0]
    spec.save(tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["format_version"] == 4 and len(data["data_class_means"]) == 2
    loaded = LANESpecification()
    loaded.load(tmp_path / "s.json")
    assert np.array_equal(loaded.data_class_means, spec.data_class_means)
    assert np.array_equal(loaded.class_mean_embeddings(), spec.class_mean_embeddings())


def test_they_can_be_left_out_and_a_calibrated_family_has_none(tasks):
    (X, y), *_ = tasks[0]
    without = generate_lane_spec(X, y, num_per_class=2, iterations=2, data_means=False, verbose=False)
    assert without.data_class_means is None and "data_class_means" not in without.to_dict()
    (emb,) = without.embedding_family().embed([without.get_z()])
    assert np.allclose(without.class_mean_embeddings(), without.class_mean_rows(emb), rtol=1e-5, atol=1e-6)
    calibrated = generate_lane_spec(X, y, num_per_class=2, iterations=2, normalization="calibrated", verbose=False)
    assert calibrated.data_class_means is None
    for bad, error in (({"data_means": 1}, TypeError), ({"data_means_min_rows": 0}, ValueError),
                       ({"data_means_min_rows": 2.5}, TypeError)):
        with pytest.raises(error, match="data_means"):
            generate_lane_spec(X, y, num_per_class=2, iterations=0, verbose=False, **bad)


def test_the_market_stores_the_data_means_as_the_searched_class_means(tmp_path, specs):
    from sklearn.dummy import DummyClassifier

    from k2v_learnware import pack_learnware
    from k2v_learnware.market import instantiate_market
    from k2v_learnware.market.lane_means import means_file, stored_family
    from k2v_learnware.packaging import read_semantic_spec

    market = instantiate_market("scale", root=tmp_path)
    model = DummyClassifier().fit(specs[1].get_z(), specs[1].get_labels())
    path = pack_learnware(model, specs[1], tmp_path / "lw.zip")
    learnware_id = market.add_learnware(str(path), read_semantic_spec(path))[0]
    folder = Path(market.learnware_organizer.learnware_folder_list[learnware_id]).parent
    stored = np.load(means_file(folder, stored_family(specs[1]).key), allow_pickle=False)
    assert np.array_equal(stored, specs[1].data_class_means)
    # a worker holds them once, in the stored copy its search reads: the spec's own go with its points
    from k2v_learnware.specification.lane import lane_spec_of

    again = instantiate_market("scale", root=tmp_path)
    spec = lane_spec_of(again.learnware_organizer.get_learnware_by_ids(learnware_id))
    assert not spec.points_in_memory() and spec.__dict__["_data_means"] is None
    assert np.array_equal(spec.class_mean_embeddings(), specs[1].data_class_means)
    assert spec.__dict__["_data_means"] is None  # the search read the market's copy
    assert np.array_equal(spec.data_class_means, specs[1].data_class_means)  # read back from the spec file
    spec.release_points()
    assert spec.__dict__["_data_means"] is None


def test_the_width_read_from_a_file_is_the_family_width():
    from k2v_learnware.specification.networks import EmbeddingConfig, RandomEmbedding

    for config in (EmbeddingConfig("mlp", (64,), 32, 2), EmbeddingConfig("convnet", (1, 14, 14), 8, 2),
                   EmbeddingConfig("convnet", (3, 15, 9), 4, 3)):
        family = RandomEmbedding(config, seed=0, num_nets=3)
        assert family_output_width({**config.to_dict(), "num_nets": 3}) == family.out_features


@pytest.mark.parametrize("change, message", [
    (lambda d: d["data_class_means"].pop(), "data_class_means must be 2 rows"),
    (lambda d: d["data_class_means"][1].pop(), "of 2048 numbers"),
    (lambda d: d.update(format_version=3), "data_class_means need format 4"),
    (lambda d: d["embedding"].update(normalization="calibrated"), "need a fixed embedding family"),
    (lambda d: d["data_class_means"][0].__setitem__(0, 1e39), "beyond the float32 range"),
    (lambda d: d["data_class_means"][0].__setitem__(0, "x"), "schema at data_class_means/0/0"),
])
def test_inconsistent_means_are_refused(tmp_path, specs, change, message):
    data = specs[0].to_dict()
    change(data)
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(SpecificationFormatError, match=message):
        LANESpecification().load(tmp_path / "bad.json")


def test_a_non_finite_mean_never_loads(tmp_path, specs):
    text = json.dumps(specs[0].to_dict()).replace('"data_class_means": [[', '"data_class_means": [[NaN, ', 1)
    (tmp_path / "nan.json").write_text(text)
    with pytest.raises(SpecificationFormatError, match="NaN"):
        LANESpecification().load(tmp_path / "nan.json")


def test_the_means_privacy_gap_grows_as_classes_shrink(tasks):
    """A class mean of 3 rows sits near each of them (membership shows); one of ~90 barely moves."""
    from k2v_learnware.compare import class_means_privacy_gap, fidelity

    _, (X, y) = tasks
    rows = np.flatnonzero(np.isin(y, (0, 1)))
    train, hold = rows[::2], rows[1::2]
    small = np.concatenate([train[y[train] == 0][:3], train[y[train] == 1][:3]])
    # the default keeps no means for classes of fewer than 100 rows: this measures why
    assert generate_lane_spec(X[small], y[small], num_per_class=2, iterations=0, verbose=False).data_class_means \
        is None
    tiny = generate_lane_spec(X[small], y[small], num_per_class=2, iterations=0, data_means_min_rows=1, verbose=False)
    large = generate_lane_spec(X[train], y[train], num_per_class=2, iterations=0, data_means_min_rows=1,
                               verbose=False)
    tiny_gap, note = class_means_privacy_gap(tiny, X[small], y[small], X[hold], y[hold])
    large_gap, _ = class_means_privacy_gap(large, X[train], y[train], X[hold], y[hold])
    assert note and tiny_gap > 0.15 and abs(large_gap) < 0.03
    report = fidelity(large, X[train], y[train], X_holdout=X[hold], y_holdout=y[hold])
    assert report.means_privacy_gap == pytest.approx(large_gap)
    assert fidelity(large, X[train], y[train], X_holdout=X[hold]).means_privacy_gap is None
    plain = generate_lane_spec(X[train], y[train], num_per_class=2, iterations=0, verbose=False)  # 90 per class
    with pytest.raises(ValueError, match="carries data_class_means"):
        class_means_privacy_gap(plain, X[train], y[train], X[hold], y[hold])
    with pytest.raises(ValueError, match="share no rows"):
        class_means_privacy_gap(large, X[train], y[train], X[hold], np.full(len(hold), 7))


def test_the_steps_default_to_few_only_when_the_rows_means_carry_the_search(tasks, monkeypatch):
    from k2v_learnware.specification import lane, lane_build

    # the rule, not the step counts: shorter stand-ins keep the test fast
    monkeypatch.setattr(lane_build, "POINTS_ITERATIONS", 4)
    monkeypatch.setattr(lane_build, "REQUIREMENT_ITERATIONS", 5)
    DEFAULT_ITERATIONS, POINTS_ITERATIONS, REQUIREMENT_ITERATIONS = 20, 4, 5
    assert lane.DEFAULT_ITERATIONS == DEFAULT_ITERATIONS
    _, (X, y) = tasks
    big = np.flatnonzero(np.isin(y, (0, 1)))  # ~180 rows per class
    small = np.concatenate([big[y[big] == 0][:30], big[y[big] == 1][:30]])
    cases = [
        ((X[big], y[big]), {}, DEFAULT_ITERATIONS, True),
        ((X[small], y[small]), {}, POINTS_ITERATIONS, False),  # the points carry the search
        ((X[big], y[big]), {"data_means": False}, POINTS_ITERATIONS, False),
        ((X[big], None), {}, DEFAULT_ITERATIONS, True),  # a user's requirement of 360 rows: its exact mean
        ((X[small[:50]], None), {}, REQUIREMENT_ITERATIONS, False),
        ((X[big], y[big]), {"iterations": 7}, 7, True),
    ]
    for (data, labels), options, steps, keeps in cases:
        spec = generate_lane_spec(data, labels, num_per_class=2, verbose=False, **{"iterations": None, **options})
        assert spec.condensation["iterations"] == steps and (spec.data_class_means is not None) == keeps, options
    requirement = generate_lane_spec(X[small[:50]], None, num_per_class=2, iterations=1, verbose=False)
    assert requirement.condensation["batch_real"] == 1024
