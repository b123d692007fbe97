"""The ``pack`` command: a model and its specification files as one learnware zip.

Serves the submission stage of the learnware paradigm: the developer's
model (trained here on their labelled data, or a fitted model they trust)
travels with the LANE specification that lets the market find it for users
who never see the developer's data. The model is probed on the
specification's own points before the zip is written, so a learnware the
market would reject for its shape fails here, on the developer's machine.
"""

from __future__ import annotations

from pathlib import Path

from .common import CLIError, Outcome, existing_file, say, writable_output
from .data import data_from_args
from .spec_files import check_spec_file, load_spec

#: The scikit-learn estimators ``pack --train`` can fit.
ESTIMATORS = ("svm", "logistic")


def cmd_pack(args) -> Outcome:
    """Write a learnware zip: a model (trained here, or a trusted pickle) and its specification files."""
    import numpy as np

    output = Path(args.output)
    if output.suffix.lower() != ".zip":
        raise CLIError(f"-o {output}: a learnware is a .zip file")
    writable_output(output, "-o")  # first: a FIFO or a device is refused whatever --overwrite says
    if output.exists() and not args.overwrite:  # said before any work, not after
        raise CLIError(f"-o {output} exists; pass --overwrite to replace it")
    for spec_path in args.specs:
        check_spec_file(spec_path)  # missing or malformed files fail before anything heavy is imported
    data = None
    if args.train:
        kind, data_path = args.train
        if kind not in ESTIMATORS:
            raise CLIError(f"--train: unknown estimator {kind!r}; choose from {', '.join(ESTIMATORS)}")
        data = data_from_args(args, need_labels=True, path=data_path)
    else:
        existing_file(args.model, "model file")
        if not args.trust_model:
            _load_model_file(args.model, trust=False)  # raises the explanation

    specs = [load_spec(p, args.quiet) for p in args.specs]
    from ..specification.lane import LANESpecification
    from ..packaging import default_semantic_spec, pack_learnware

    lanes = [s for s in specs if isinstance(s, LANESpecification)]
    if len(lanes) != 1:
        raise CLIError(f"a learnware needs exactly one LANE specification; got {len(lanes)} among {args.specs}")
    lane = lanes[0]
    shape = lane.input_shape
    if data is not None:
        X = data.X
        if int(np.prod(X.shape[1:])) != int(np.prod(shape)):
            raise CLIError(f"{data.path} has {int(np.prod(X.shape[1:]))} features per row, the LANE specification "
                           f"{int(np.prod(shape))} (shape {shape})")
        X = X.reshape((len(X),) + shape)
        if set(data.y) != set(lane.classes):
            raise CLIError(f"the labels of {data.path} ({sorted(set(data.y), key=str)}) differ from the classes of "
                           f"the LANE specification ({lane.classes})")
        say(args, f"training {kind} on {len(X)} rows of {data.path} ...")
        model = _train_model(kind, X, data.y)
        source = f"{kind} trained on {data.path}"
    else:
        model = _load_model_file(args.model, trust=True)
        source = str(args.model)
    if not callable(getattr(model, "predict", None)):
        raise CLIError(f"the model ({type(model).__name__}) has no predict method")
    probe = np.concatenate([lane.sample_class(c, 2, random_state=0) for c in lane.classes])
    try:
        outputs = np.asarray(model.predict(probe if len(shape) > 1 else probe.reshape(len(probe), -1)))
    except Exception as exc:
        raise CLIError(f"the model cannot predict on inputs of shape {shape} like the LANE specification's: "
                       f"{type(exc).__name__}: {exc}") from exc
    if len(outputs) != len(probe):
        raise CLIError(f"the model returned {len(outputs)} outputs for {len(probe)} inputs")

    name = args.name or output.stem
    semantic = default_semantic_spec(shape, lane.classes, name=name,
                                     description=args.description or "")
    pack_learnware(model, specs, output, semantic_spec=semantic, overwrite=args.overwrite)
    payload = {"output": str(output), "name": name, "model": type(model).__name__, "model_source": source,
               "specifications": [s.type for s in specs], "input_shape": list(shape), "classes": lane.classes,
               "bytes": output.stat().st_size}
    text = (f"wrote {output}: learnware {name!r}, {type(model).__name__} ({source}), "
            f"specifications {', '.join(payload['specifications'])}")
    return Outcome(payload, text)


def _flatten_rows(X):
    """Rows of any shape as flat vectors (lets a scikit-learn model take image-shaped input)."""
    import numpy as np

    X = np.asarray(X)
    return X.reshape(len(X), -1)


def _train_model(kind: str, X, y):
    """A scikit-learn ``kind`` fitted here, so a developer need not pickle (and a market need not trust) a model."""
    if kind not in ESTIMATORS:
        raise CLIError(f"--train: unknown estimator {kind!r}; choose from {', '.join(ESTIMATORS)}")
    if kind == "svm":
        from sklearn.svm import SVC

        model = SVC()
    else:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=2000)
    if X.ndim > 2:  # the market hands the model rows shaped like the spec's samples
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        model = make_pipeline(FunctionTransformer(_flatten_rows), model)
    return model.fit(X, y)


def _load_model_file(path, trust: bool):
    """A fitted model from a pickle, only with ``trust``: unpickling runs whatever code the file holds."""
    path = existing_file(path, "model file")
    if path.suffix.lower() not in (".joblib", ".pkl", ".pickle"):
        raise CLIError(f"--model {path}: expected a .joblib or .pkl file")
    if not trust:
        raise CLIError(f"refusing to load {path}: unpickling runs any code stored in the file. Pass --trust-model "
                       "if you trust where it came from, or train one here with --train svm DATA")
    try:
        if path.suffix.lower() == ".joblib":
            import joblib

            return joblib.load(path)
        import pickle

        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception as exc:
        raise CLIError(f"cannot load the model in {path}: {type(exc).__name__}: {exc}") from exc
