"""Mixed-task reuse: LANE against the `learnware` package's RKME route, on the same users.

Every developer task gets an SVM and, for each method, a specification of its
training data. Each user mixes ``m`` random tasks in random (Dirichlet)
proportions; every method sees only the learnwares and the user's unlabelled
rows, and predicts every row. Methods:

- ``Oracle``: each row by its true task's model; ``MAX``: the most confident model.
- ``LANE``: Eq. 9 on the user's rows (Algorithm 2's input) gives the search's
  weights; :class:`~k2v_learnware.reuse.LANEClassRouterReuser` re-estimates them by
  label-shift EM and routes by a class-level selector, with mimic data from the
  specs' class mixtures (beyond the paper); ``LANE-k{K}`` the same with K
  synthetic points per class (they only start the weights now).
- ``LANE-paper``: the paper's spec and route: 200 condensation steps from random real rows, no class
  mixtures, no data class means; Eq. 9 weights on the points' class means,
  mimic data from the points' class Gaussians and
  :class:`~k2v_learnware.reuse.LANEJobSelectorReuser`.
- ``RKME`` / ``RKME-median``: the package's RKMETableSpecification (its default
  ``gamma=0.1`` / the median heuristic), the user's rows as an RKME at the same
  gamma (unreduced, as the package's JobSelectorReuser builds it), the package's QP
  for the weights, and the package's JobSelectorReuser (run fairly, see
  :mod:`.rkme_baselines`) for the predictions.
- ``RKME+SVM`` / ``RKME-median+SVM``: the same weights, our SVM selector on the
  reduced sets; ``RKME-median+SVM-n{N}`` with N reduced-set points per learnware.

``paired`` in ``results.json``: per method and mixture count, the per-user
accuracy difference to ``RKME-median+SVM`` on the same users (mean, wins,
losses, two-sided sign-test p-value, 95% bootstrap interval of the mean).

Times: ``spec_seconds`` per learnware, ``search_seconds`` per user (the
weights from the user's rows), ``reuse_seconds`` per user (selector and
predictions; the package's JobSelectorReuser works its weights out again inside).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..specification.formats import saved_size
from .reuse_parties import draw_users, in_memory_learnware, train_developers
from .settings import ReuseSetting

LANE_DEFAULT_K = 10
#: Condensation steps of the ``LANE-paper`` spec: the package default before the specs carried their rows' class
#: means (README, "Choosing the defaults"), so the paper's route gets points condensed to convergence.
PAPER_ITERATIONS = 200
#: Where the ``LANE-paper`` spec's points start: random real rows, the paper's Algorithm 1 (step 1), not the
#: package default (k-means centres), as the retrieval bench's paper spec does too.
PAPER_INIT = "real"
RKME_DEFAULT_GAMMA = 0.1
RKME_DEFAULT_SIZE = 100


def paper_lane_spec(X, y, iterations: int, seed: int):
    """The ``LANE-paper`` spec: ``LANE_DEFAULT_K`` points per class condensed ``iterations`` steps from random real
    rows (the paper's Algorithm 1), no class mixtures and no rows' class means, so Eq. 9 reads the points' class
    means and Eq. 10 fits its Gaussians to the points."""
    from ..specification.lane import generate_lane_spec

    return generate_lane_spec(X, y, num_per_class=LANE_DEFAULT_K, iterations=iterations, init=PAPER_INIT,
                              mixture_components=0, data_means=False, seed=seed, verbose=False)


@dataclass
class ReuseOptions:
    """What one run does; :meth:`quick` and :meth:`full` are the two presets."""

    users_per_count: int = 50  # as the paper has; 20 left the digits intervals touching zero at m = 2, 3, 5
    jobselector_users: int = 5  # per mixture count: the package's reuser costs seconds per user
    herding_num: int = 200  # the package default (1000) costs ~70 s per user even on digits: herding is cubic
    lane_sizes: tuple[int, ...] = (2, 5, 10, 20, 50)
    lane_iterations: int | None = None  # condensation steps; None: the package default
    paper_iterations: int = PAPER_ITERATIONS  # the LANE-paper spec's condensation steps
    seed: int = 0

    @classmethod
    def quick(cls, seed: int = 0) -> "ReuseOptions":
        return cls(users_per_count=2, jobselector_users=1, herding_num=100, lane_sizes=(5, 10), lane_iterations=20,
                   paper_iterations=20, seed=seed)

    @classmethod
    def full(cls, seed: int = 0, dataset: str | None = None) -> "ReuseOptions":
        """The full run: 50 users per mixture count, as the paper has; in a setting of many tasks
        (``LARGE_SETTINGS``) LANE at its default size only, and the package's JobSelectorReuser (tens of
        seconds per user) on one user per count."""
        from .settings import LARGE_SETTINGS

        if dataset in LARGE_SETTINGS:
            return cls(jobselector_users=1, lane_sizes=(LANE_DEFAULT_K,), seed=seed)
        return cls(seed=seed)


@dataclass
class _Method:
    """What one method measured: per mixture count lists of per-user values."""

    accuracy: dict = field(default_factory=dict)
    paired_accuracy: dict = field(default_factory=dict)  # on the users the package's selector ran on
    weights_l1: dict = field(default_factory=dict)
    search_seconds: list = field(default_factory=list)
    reuse_seconds: list = field(default_factory=list)
    spec_seconds: float | None = None
    spec_points: float | None = None
    spec_bytes: float | None = None

    def add(self, m, accuracy, reuse_seconds, weights_l1=None, search_seconds=None, paired=False):
        self.accuracy.setdefault(m, []).append(float(accuracy))
        if paired:
            self.paired_accuracy.setdefault(m, []).append(float(accuracy))
        self.reuse_seconds.append(float(reuse_seconds))
        if weights_l1 is not None:
            self.weights_l1.setdefault(m, []).append(float(weights_l1))
        if search_seconds is not None:
            self.search_seconds.append(float(search_seconds))


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def _stored_vectors(spec) -> int:
    """Vectors of the input's size a spec stores: its points, plus a LANE spec's mixture means and axes and its
    data class means (counted in input-sized vectors)."""
    mixtures = getattr(spec, "class_mixtures", None) or []
    stored = len(spec.get_z()) + sum(m.means.shape[0] + m.axes.shape[0] * m.axes.shape[1] for m in mixtures)
    means = getattr(spec, "data_class_means", None)
    return stored + (0 if means is None else means.size / int(np.prod(spec.input_shape)))


def _spec_summary(specs, seconds) -> dict:
    """Mean generation time, stored vectors and file size of one method's specifications (one per learnware)."""
    return {"spec_seconds": float(np.mean(seconds)),
            "spec_points": float(np.mean([_stored_vectors(s) for s in specs])),
            "spec_bytes": float(np.mean([saved_size(s) for s in specs]))}


def run_reuse(setting: ReuseSetting, options: ReuseOptions, verbose: bool = True) -> dict:
    """Run every method on every user of ``setting``; returns the ``results.json`` document."""
    import learnware

    learnware.init(logging_level=__import__("logging").WARNING)
    from .._progress import progress

    from ..specification.lane import generate_lane_spec
    from ..reuse import LANEClassRouterReuser, LANEJobSelectorReuser
    from ..search import mixture_weights
    from . import rkme_baselines as rb

    T = len(setting.tasks)
    counts = list(range(1, T + 1))
    dim = int(np.prod(setting.X_train.shape[1:]))
    methods: dict[str, _Method] = {}

    # ---- developers: a model and the specifications of every method per task
    models, task_data = train_developers(setting, options.seed)

    # torch's first calls (thread pools, allocator) cost seconds: pay them untimed, for both kinds of spec
    X0, y0 = task_data[0]
    generate_lane_spec(X0, y0, num_per_class=2, iterations=2, seed=options.seed, verbose=False)
    rb.rkme_spec(X0, RKME_DEFAULT_GAMMA, 10)
    lane_specs: dict[int, list] = {}
    sizes = sorted(set(options.lane_sizes) | {LANE_DEFAULT_K})
    bar = progress(total=len(sizes) * T, verbose=verbose, desc="LANE specifications")
    for k in sizes:
        name = "LANE" if k == LANE_DEFAULT_K else f"LANE-k{k}"
        method = methods.setdefault(name, _Method())
        specs, seconds = [], []
        for X, y in task_data:
            spec, s = _timed(generate_lane_spec, X, y, num_per_class=k, seed=options.seed, verbose=False,
                             **({} if options.lane_iterations is None else {"iterations": options.lane_iterations}))
            specs.append(spec), seconds.append(s)
            bar.update()
        lane_specs[k] = specs
        for field_name, value in _spec_summary(specs, seconds).items():
            setattr(method, field_name, value)
    bar.close()
    # the paper's spec: its condensation run to convergence, no class mixtures, the points' own class means
    paper_specs, seconds = [], []
    for X, y in progress(task_data, verbose=verbose, desc="LANE-paper specifications"):
        spec, s = _timed(paper_lane_spec, X, y, options.paper_iterations, options.seed)
        paper_specs.append(spec), seconds.append(s)
    paper = methods.setdefault("LANE-paper", _Method())
    for field_name, value in _spec_summary(paper_specs, seconds).items():
        setattr(paper, field_name, value)
    paper_learnwares = [in_memory_learnware(f"lane-paper-{t}", models[t], dim, {"LANESpecification": s})
                        for t, s in enumerate(paper_specs)]

    gammas = {"RKME": RKME_DEFAULT_GAMMA,
              "RKME-median": float(np.median([rb.median_gamma(X, seed=options.seed) for X, _ in task_data]))}
    classes_per_task = float(np.mean([len(t) for t in setting.tasks]))
    rkme_sizes = {f"RKME-median+SVM-n{int(round(k * classes_per_task))}": int(round(k * classes_per_task))
                  for k in options.lane_sizes if int(round(k * classes_per_task)) != RKME_DEFAULT_SIZE}
    rkme_specs: dict[str, list] = {}
    jobs = [(name, gamma, RKME_DEFAULT_SIZE) for name, gamma in gammas.items()]
    jobs += [(name, gammas["RKME-median"], n) for name, n in rkme_sizes.items()]
    for name, gamma, n in progress(jobs, verbose=verbose, desc="RKME specifications"):
        specs, seconds = [], []
        for X, _ in task_data:
            spec, s = _timed(rb.rkme_spec, X, gamma, n)
            specs.append(spec), seconds.append(s)
        rkme_specs[name] = specs
        summary = _spec_summary(specs, seconds)
        for label in ([name, f"{name}+SVM"] if n == RKME_DEFAULT_SIZE else [name]):
            method = methods.setdefault(label, _Method())
            for field_name, value in summary.items():
                setattr(method, field_name, value)

    lane_learnwares = {k: [in_memory_learnware(f"lane-{k}-{t}", models[t], dim, {"LANESpecification": s})
                           for t, s in enumerate(specs)] for k, specs in lane_specs.items()}
    rkme_learnwares = {name: [in_memory_learnware(f"{name}-{t}", models[t], dim, {"RKMETableSpecification": s})
                              for t, s in enumerate(rkme_specs[name])] for name in gammas}

    # ---- users
    users = draw_users(setting, counts, options.users_per_count, options.seed)
    jobselector_left = {m: options.jobselector_users for m in counts}
    for m, rows, truth, proportions in progress(users, verbose=verbose, desc=f"users ({setting.name})"):
        Xu, yu = setting.X_test[rows], setting.y_test[rows]
        accuracy = lambda pred: float(np.mean(np.asarray(pred).reshape(-1) == yu))  # noqa: E731
        use_jobselector = jobselector_left[m] > 0
        jobselector_left[m] -= 1

        pred, s = _timed(rb.oracle_predict, models, Xu, truth)
        methods.setdefault("Oracle", _Method()).add(m, accuracy(pred), s, paired=use_jobselector)
        pred, s = _timed(rb.max_confidence_predict, models, Xu)
        methods.setdefault("MAX", _Method()).add(m, accuracy(pred), s, paired=use_jobselector)

        for k, specs in lane_specs.items():
            name = "LANE" if k == LANE_DEFAULT_K else f"LANE-k{k}"
            found, s = _timed(mixture_weights, Xu, specs)
            reuser = LANEClassRouterReuser(lane_learnwares[k], found.learnware_weights, random_state=options.seed)
            pred, r = _timed(reuser.predict, Xu)
            methods[name].add(m, accuracy(pred), r, np.abs(reuser.weights_ - proportions).sum(), s,
                              paired=use_jobselector)
        found, s = _timed(mixture_weights, Xu, paper_specs)
        reuser = LANEJobSelectorReuser(paper_learnwares, found.learnware_weights, random_state=options.seed)
        pred, r = _timed(reuser.predict, Xu)
        paper.add(m, accuracy(pred), r, np.abs(found.learnware_weights - proportions).sum(), s, paired=use_jobselector)
        for name, gamma in gammas.items():
            user_spec, user_seconds = _timed(rb.rkme_spec, Xu, gamma, reduce=False)
            w, s = _timed(rb.rkme_weights, user_spec, rkme_specs[name])
            l1 = np.abs(w - proportions).sum()
            reuser = rb.RKMESVMReuser(models, rkme_specs[name], w)
            pred, r = _timed(reuser.predict, Xu)
            methods[f"{name}+SVM"].add(m, accuracy(pred), r, l1, user_seconds + s, paired=use_jobselector)
            if use_jobselector:
                selector = rb.fair_job_selector(rkme_learnwares[name], herding_num=options.herding_num)
                with rb.single_thread_lightgbm():
                    pred, r = _timed(selector.predict, Xu)
                methods[name].add(m, accuracy(pred), r, l1, user_seconds + s, paired=True)
            if name == "RKME-median":
                for sized, n in rkme_sizes.items():
                    w, s = _timed(rb.rkme_weights, user_spec, rkme_specs[sized])
                    pred, r = _timed(rb.RKMESVMReuser(models, rkme_specs[sized], w).predict, Xu)
                    methods[sized].add(m, accuracy(pred), r, np.abs(w - proportions).sum(), user_seconds + s,
                                       paired=use_jobselector)

    from .reuse_results import reuse_document

    return reuse_document(setting, options, counts, methods)
