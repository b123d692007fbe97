"""Search at market scale: the fixed embedding family, stored class means and the two-stage QP.

The two-stage search must give the exact optimum of Eq. 9 (checked against one
QP over every class), rank single learnwares exactly, and keep format-1
specifications loading and searching as they did (weights recorded with the
code of commit 4b94a48 in ``tests/data/lane_v1_expected.json``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from k2v_learnware import LANESpecification, generate_lane_spec
from k2v_learnware.search import mixture_weights, single_residuals
from k2v_learnware.search.class_mean_index import ClassMeanIndex
from k2v_learnware.search.simplex_qp import simplex_qp

DATA = Path(__file__).parent / "data"


def _v1_specs():
    specs = []
    for i in range(3):
        spec = LANESpecification()
        spec.load(DATA / f"lane_v1_task{i}.json")
        specs.append(spec)
    return specs


# ------------------------------------------------------------ format 1 keeps working
def test_format_1_files_load_and_search_as_before():
    specs = _v1_specs()
    assert all(not s.embedding_family().fixed for s in specs)
    expected = json.loads((DATA / "lane_v1_expected.json").read_text())
    found = mixture_weights(np.load(DATA / "lane_v1_user.npy"), specs)
    assert np.abs(found.learnware_weights - expected["learnware_weights"]).max() < 1e-4
    assert found.mmd2 == pytest.approx(expected["mmd2"], rel=1e-4)


def test_a_format_1_spec_saved_again_is_current_and_keeps_its_family(tmp_path):
    spec = _v1_specs()[0]
    spec.save(tmp_path / "again.json")
    data = json.loads((tmp_path / "again.json").read_text())
    assert data["format_version"] == 4 and data["embedding"]["normalization"] == "calibrated"
    again = LANESpecification()
    again.load(tmp_path / "again.json")
    assert again.to_dict() == spec.to_dict() and not again.embedding_family().fixed


def test_a_format_2_file_without_normalization_is_refused(tmp_path):
    from k2v_learnware.specification.formats import SpecificationFormatError

    data = json.loads((DATA / "lane_v1_task0.json").read_text())
    data["format_version"] = 2
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(SpecificationFormatError, match="must name its normalization"):
        LANESpecification().load(tmp_path / "bad.json")


# ------------------------------------------------------------ the fixed family
@pytest.fixture(scope="module")
def digits_specs():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    specs = [generate_lane_spec(X[np.isin(y, t)][:150], y[np.isin(y, t)][:150], num_per_class=4, iterations=30,
                                seed=i, verbose=False) for i, t in enumerate([(0, 1), (2, 3), (4, 5), (6, 7)])]
    user = np.concatenate([X[np.isin(y, (0, 1))][200:270], X[np.isin(y, (6, 7))][200:230]])
    return specs, user


def test_a_fixed_family_needs_no_reference_and_is_the_same_for_everyone(digits_specs):
    specs, user = digits_specs
    family = specs[0].embedding_family()
    assert family.fixed and family.key == specs[1].embedding_family().key  # same settings, same family
    means = specs[0].class_mean_embeddings()
    assert means.dtype == np.float32 and means.shape == (2, family.out_features)
    (emb,) = family.embed([specs[0].get_z()])
    assert np.allclose(means, specs[0].class_mean_rows(emb), rtol=1e-5, atol=1e-6)
    # a requirement's embedding does not move with the other data it is compared to
    assert specs[0].dist(specs[1]) == pytest.approx(specs[1].dist(specs[0]), rel=1e-5)


def test_the_fixed_family_recovers_a_mixture_of_the_specs_own_points(digits_specs):
    specs, _ = digits_specs
    user = np.concatenate([specs[0].get_z()] * 3 + [specs[3].get_z()])  # 3/4 and 1/4, exactly representable
    found = mixture_weights(user, specs)
    assert found.exact and np.abs(found.learnware_weights - [0.75, 0, 0, 0.25]).sum() < 0.02
    assert np.argmin(single_residuals(specs[2].get_z(), specs)) == 2


# ------------------------------------------------------------ the two-stage QP
def _random_market(seed, learnwares=200, classes=10, dim=48):
    """Class means on a cone (all-positive, like ReLU features) and a planted 3-learnware requirement."""
    rng = np.random.default_rng(seed)
    blocks = [np.abs(rng.standard_normal((classes, dim)) + rng.standard_normal(dim)).astype(np.float32)
              for _ in range(learnwares)]
    planted = rng.choice(learnwares, size=3, replace=False)
    u = sum(blocks[i][rng.integers(classes)] * w for i, w in zip(planted, (0.5, 0.3, 0.2))).astype(np.float64)
    return blocks, u, planted


@pytest.mark.parametrize("seed", range(3))
def test_column_generation_reaches_the_exact_optimum_of_the_full_qp(seed):
    blocks, u, planted = _random_market(seed, learnwares=100)
    index = ClassMeanIndex.from_blocks(blocks)
    small = index.mixture(u, max_classes=40, max_rounds=30)  # 1000 classes in the market, 40 at a time
    M = index.matrix.astype(np.float64)
    full = simplex_qp(M @ M.T, M @ u, float(u @ u))
    objective = lambda rows, w: float(np.sum((M[rows].T @ w - u) ** 2))  # noqa: E731
    assert small.exact and len(small.rows) < 1000
    assert objective(small.rows, small.weights) == pytest.approx(objective(np.arange(len(M)), full),
                                                                 rel=1e-4, abs=1e-6 * float(u @ u))
    assert set(planted) <= set(index.owner[small.rows[small.weights > 0.05]])


def _reference_simplex_least_squares(M, u):
    """argmin |M^T w - u|^2 over the simplex by cvxpy + Clarabel, independently of simplex_qp: the problem
    divided by the classes' mean |m|^2, which moves no optimum."""
    import cvxpy as cp

    size = np.sqrt(float(np.sum(M * M)) / len(M))
    w = cp.Variable(len(M))
    cp.Problem(cp.Minimize(cp.sum_squares((M / size).T @ w - u / size)), [w >= 0, cp.sum(w) == 1]).solve(
        solver=cp.CLARABEL)
    return np.asarray(w.value)


@pytest.mark.parametrize("factor", [1.0, 1e-2, 1e-6, 1e-10, 0.0])
@pytest.mark.parametrize("solver", ["daqp", "clarabel", "cvxpy"])
def test_the_qp_finds_the_optimum_of_a_requirement_near_zero(factor, solver):
    # scaled by |u|^2 alone, a requirement near 0 made the Hessian huge: DAQP returned a wrong optimum
    # (1e-6) and both solvers failed on u = 0; the optimum is unique here (6 independent class means)
    rng = np.random.default_rng(3)
    M = rng.standard_normal((6, 40)) + 0.5
    u = factor * (0.6 * M[0] + 0.4 * M[3] + 0.3 * rng.standard_normal(40))
    w = simplex_qp(M @ M.T, M @ u, float(u @ u), solver)
    assert np.abs(w - _reference_simplex_least_squares(M, u)).max() < 1e-4


def test_an_all_zero_requirement_is_weighed_and_ranked(digits_specs):
    specs, _ = digits_specs
    zeros = np.zeros((20, 64), np.float32)
    result = mixture_weights(zeros, specs)
    assert result.learnware_weights.sum() == pytest.approx(1.0) and np.isfinite(result.mmd2)
    assert np.isfinite(single_residuals(zeros, specs)).all()
    blocks, u, _ = _random_market(1, learnwares=100)
    index = ClassMeanIndex.from_blocks(blocks)
    M = index.matrix.astype(np.float64)
    for tiny in (1e-8 * u, 0 * u):  # column generation proves the optimum of a requirement near 0 too
        solution = index.mixture(tiny, max_classes=40, max_rounds=30)
        dense = np.zeros(len(M))
        dense[solution.rows] = solution.weights
        assert solution.exact
        assert np.abs(dense - _reference_simplex_least_squares(M, tiny)).max() < 1e-3
    assert simplex_qp(np.zeros((3, 3)), np.zeros(3), 0.0).tolist() == [1 / 3] * 3  # every weighting is optimal


def test_with_few_classes_the_qp_runs_over_all_of_them_as_before():
    blocks, u, _ = _random_market(0, learnwares=20)
    index = ClassMeanIndex.from_blocks(blocks)
    solution = index.mixture(u)  # 200 classes: one QP over all
    assert solution.exact and solution.rounds == 1 and len(solution.rows) == 200
    R = index.matrix.astype(np.float64).T
    from k2v_learnware.search.mixture_qp import _simplex_least_squares

    assert np.abs(solution.weights - _simplex_least_squares(R, u, "cvxpy")).max() < 1e-3


@pytest.mark.parametrize("seed", range(3))
def test_single_ranking_equals_the_brute_force_ranking(seed):
    blocks, u, _ = _random_market(seed, learnwares=120, classes=5, dim=16)
    index = ClassMeanIndex.from_blocks(blocks)
    brute = np.array([index.single_residual(i, index.projections(u), float(u @ u)) for i in range(120)])
    order, residuals = index.rank_single(u, 7)
    assert order.tolist() == np.argsort(brute, kind="stable")[:7].tolist()
    assert np.allclose(residuals, np.sort(brute)[:7], rtol=1e-4, atol=1e-8 * float(u @ u))
    bound, exact = index.affine_residuals(index.projections(u), float(u @ u))
    assert np.all(bound <= brute + 1e-6 * float(u @ u))  # a lower bound, and equal where marked exact
    assert np.allclose(bound[exact], brute[exact], rtol=1e-4, atol=1e-8 * float(u @ u))


def test_index_blocks_must_share_their_width():
    with pytest.raises(ValueError, match="expected"):
        ClassMeanIndex.from_blocks([np.zeros((2, 3)), np.zeros((2, 4))])


# ------------------------------------------------------------ the market stores them
def test_the_market_stores_class_means_and_rebuilds_a_missing_file(tmp_path, digits_specs):
    from sklearn.dummy import DummyClassifier

    from k2v_learnware import pack_learnware
    from k2v_learnware.market import instantiate_market
    from k2v_learnware.market.lane_means import means_file, stored_family
    from k2v_learnware.packaging import read_semantic_spec
    from k2v_learnware.specification.lane import lane_spec_of

    specs, user = digits_specs
    market = instantiate_market("scale", root=tmp_path)
    ids = []
    for i, spec in enumerate(specs[:2]):
        model = DummyClassifier().fit(spec.get_z(), spec.get_labels())
        path = pack_learnware(model, spec, tmp_path / f"lw{i}.zip")
        ids.append(market.add_learnware(str(path), read_semantic_spec(path))[0])
    organizer = market.learnware_organizer
    family = stored_family(specs[0])
    files = {i: means_file(Path(organizer.learnware_folder_list[i]).parent, family.key) for i in ids}
    assert all(f.exists() for f in files.values())
    stored = np.load(files[ids[0]], allow_pickle=False)
    assert stored.dtype == np.float32 and np.array_equal(stored, specs[0].class_mean_embeddings(family))

    files[ids[1]].unlink()
    files[ids[0]].write_bytes(b"\x93NUMPY damaged")
    again = instantiate_market("scale", root=tmp_path)
    assert files[ids[1]].exists()  # rebuilt and stored again
    assert np.array_equal(np.load(files[ids[0]], allow_pickle=False), specs[0].class_mean_embeddings(family))
    spec = lane_spec_of(again.learnware_organizer.get_learnware_by_ids(ids[1]))
    assert np.array_equal(spec.class_mean_embeddings(), specs[1].class_mean_embeddings())

    # A worker holds neither the points nor a second copy of the means: both are read back when needed.
    from k2v_learnware.reuse import LANEJobSelectorReuser

    loaded = [again.learnware_organizer.get_learnware_by_ids(i) for i in ids]
    for lw, original in zip(loaded, specs):
        spec = lane_spec_of(lw)
        key = stored_family(spec).key
        assert not spec.points_in_memory() and spec.class_means_read_on_demand(key)
        assert spec.input_shape == original.input_shape and "8 samples" in repr(spec)
    predictions = LANEJobSelectorReuser(loaded, [0.5, 0.5]).predict(user)
    # mimic data come from the class mixtures, so reuse does not even read the points back
    assert len(predictions) == len(user) and not any(lane_spec_of(lw).points_in_memory() for lw in loaded)
    assert np.array_equal(lane_spec_of(loaded[0]).get_z(), specs[0].get_z())
    assert lane_spec_of(loaded[0]).points_in_memory()
    shutil.rmtree(tmp_path / "scale", ignore_errors=True)


def test_released_points_are_read_back_from_their_file_and_checked(tmp_path, digits_specs):
    from k2v_learnware.specification.formats import SpecificationFormatError

    specs, _ = digits_specs
    specs[0].save(tmp_path / "a.json")
    spec = LANESpecification()
    spec.load(tmp_path / "a.json")
    means = spec.class_mean_embeddings()
    spec.release_points()
    assert not spec.points_in_memory() and spec.input_shape == specs[0].input_shape
    assert np.array_equal(spec.class_mean_embeddings(), means)  # kept: no read back
    assert not spec.points_in_memory()
    assert np.array_equal(spec.get_z(), specs[0].get_z()) and spec.points_in_memory()

    spec.release_points()
    specs[1].save(tmp_path / "a.json")  # the file changed after the points were released
    with pytest.raises(SpecificationFormatError, match="not those released"):
        spec.get_z()
    (tmp_path / "a.json").unlink()
    with pytest.raises(SpecificationFormatError, match="could not be read back"):
        spec.get_z()

    built = generate_lane_spec(np.random.default_rng(0).random((40, 4)), np.arange(40) % 2, num_per_class=2,
                               iterations=2, verbose=False)
    with pytest.raises(ValueError, match="not loaded from a file"):
        built.release_points()
    with pytest.raises(TypeError, match="reload must be a callable"):
        built.release_points(reload=5)
    z = built.get_z()
    built.release_points(reload=lambda: z)
    assert np.array_equal(built.get_z(), z)
    with pytest.raises(ValueError, match="no points to release"):
        LANESpecification().release_points()


def test_the_searcher_keeps_its_index_until_the_learnwares_change(digits_specs):
    from learnware.learnware import Learnware
    from learnware.specification import Specification

    from k2v_learnware.market import user_info
    from k2v_learnware.market.searchers import LANEStatSearcher

    specs, user = digits_specs
    learnwares = [Learnware(str(i), None, Specification(stat_spec={"LANESpecification": s}), "") for i, s in
                  enumerate(specs)]
    searcher = LANEStatSearcher(organizer=None)
    requirement = generate_lane_spec(user, num_per_class=20, iterations=50, verbose=False)
    first = searcher(learnwares, user_info(requirement))
    index = searcher._index[2]
    searcher(learnwares, user_info(requirement))
    assert searcher._index[2] is index
    searcher(learnwares[:3], user_info(requirement))
    assert searcher._index[2] is not index
    assert first.get_single_results()[0].learnware.id in ("0", "3")
    mixture = first.get_multiple_results()[0]
    assert {lw.id for lw in mixture.learnwares} >= {"0", "3"}


def test_a_degenerate_qp_of_duplicate_class_means_is_still_solved():
    """Learnwares trained on the same rows store identical class means; DAQP alone stalls on some of
    these QPs, and the search falls back to Clarabel instead of failing."""
    from qpsolvers import solve_qp

    rng = np.random.default_rng(0)
    stalled = 0
    for _ in range(12):
        base = np.abs(rng.standard_normal((10, 512)) + rng.standard_normal(512))
        M = np.repeat(base, 9, axis=0)
        u = 0.5 * base[1] + 0.3 * base[4] + 0.2 * base[7] + 0.01 * rng.standard_normal(512)
        G, c, uu = M @ M.T, M @ u, float(u @ u)
        n = len(c)
        P = 2 * G / uu
        P[np.diag_indices(n)] += 1e-10 * np.trace(P) / n
        stalled += solve_qp(P, -2 * c / uu, A=np.ones((1, n)), b=np.ones(1), lb=np.zeros(n), solver="daqp") is None
        w = simplex_qp(G, c, uu)
        assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
        per_class = w.reshape(10, 9).sum(axis=1)
        assert np.abs(per_class - [0, 0.5, 0, 0, 0.3, 0, 0, 0.2, 0, 0]).sum() < 0.02
        objective = lambda x: x @ G @ x - 2 * c @ x  # noqa: E731
        assert objective(w) <= objective(simplex_qp(G, c, uu, solver="cvxpy")) + 1e-6 * uu
    assert stalled, "DAQP solved every one of these degenerate QPs: the fallback was not exercised"
