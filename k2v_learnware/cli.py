"""``k2v-learnware``: LANE specifications and a learnware market from the shell.

Every step of the market loop is one subcommand, so a developer or a user never
has to write Python to take part::

    k2v-learnware generate dev.npz -o dev_lane.json --per-class 10       # condense labelled data
    k2v-learnware pack dev_lane.json --train svm dev.npz -o dev.zip      # train an SVC, write the zip
    k2v-learnware add dev.zip --market shop --root ./market              # submit (checked by the market)
    k2v-learnware list --market shop --root ./market
    k2v-learnware search user.npz --market shop --root ./market          # mixture weights + ranked singles
    k2v-learnware reuse user.npz --market shop --root ./market -o pred.npy   # accuracy too if user.npz has y
    k2v-learnware compare a.json b.json
    k2v-learnware inspect dev_lane.json

Data files are ``.npz`` (arrays ``X`` and optional ``y``, else the first and
second array; ``--x-key`` / ``--y-key`` choose), ``.npy`` (X only; labels with
``--labels y.npy``) or numeric ``.csv`` (a header row is detected;
``--label-column NAME|INDEX`` names the label column). ``--images C,H,W``
reshapes flat rows into images.

Global flags (before or after the subcommand): ``--json`` prints one JSON
document on stdout and nothing else there; ``--quiet`` drops progress bars and
chatter (errors still go to stderr); ``--debug`` shows tracebacks.

Exit codes: 0 success; 2 bad input or usage (a missing or malformed file, data
of the wrong shape, a learnware the market rejects, unknown options); 1 any
other failure (a market that cannot be reloaded, a solver failure, a bug).

``--help`` is answered without importing torch, scikit-learn or ``learnware``:
each subcommand imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PROG = "k2v-learnware"
DATA_SUFFIXES = (".npz", ".npy", ".csv")
PREDICTION_SUFFIXES = (".npy", ".csv")
ESTIMATORS = ("svm", "logistic")
#: Specification types the CLI can load, by the ``type`` field of their JSON: (module, class).
SPEC_CLASSES = {
    "LANESpecification": ("k2v_learnware.specification.lane", "LANESpecification"),
    "RKMETableSpecification": ("learnware.specification", "RKMETableSpecification"),
    "Know2VecSpecification": ("k2v_learnware.specification.know2vec", "Know2VecSpecification"),
}


class CLIError(Exception):
    """An error to report as ``k2v-learnware: error: <message>`` with exit code ``code`` (2: bad input)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


@dataclass
class Outcome:
    """What a subcommand produced: a JSON-able payload, its human rendering, and the exit code."""

    payload: dict
    text: str
    code: int = 0


@dataclass
class Data:
    """A data file as arrays: ``X`` (float32, ``(n, d)`` or ``(n, c, h, w)``) and ``y`` (list or None)."""

    path: Path
    X: object
    y: list | None


# ---------------------------------------------------------------------- helpers
def _say(args, message: str) -> None:
    """Chatter for a human on stderr; silenced by --quiet."""
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


def _init_learnware(quiet: bool) -> None:
    """Quiet the learnware loggers: they take their level when first created, so this runs before any import."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    # qpsolvers converts our dense QP matrices for clarabel on every solve; nothing a user can act on.
    warnings.filterwarnings("ignore", message="Converted matrix .* to scipy.sparse")
    if quiet:
        warnings.filterwarnings("ignore")
    import learnware

    learnware.init(verbose=False, logging_level=logging.ERROR if quiet else logging.WARNING)


def _existing_file(path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    if not path.is_file():
        raise CLIError(f"{what} {path} is not a file")
    return path


def _to_jsonable(value):
    """``json.dumps`` fallback for numpy scalars, arrays and paths."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _count(minimum: int):
    """An argparse type: an integer >= ``minimum`` (a usage error otherwise)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _parse_images(text: str | None):
    if text is None:
        return None
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise CLIError(f"--images must be C,H,W (three integers), got {text!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise CLIError(f"--images must be C,H,W (three positive integers), got {text!r}")
    return shape


# ------------------------------------------------------------------ data files
def _parse_number(cell: str):
    try:
        return float(cell)
    except ValueError:
        return None


def _labels_from_strings(values: list[str]) -> list:
    """CSV labels as ints when every one is an integer, else floats, else the strings themselves."""
    for kind in (int, float):
        try:
            return [kind(v) for v in values]
        except ValueError:
            continue
    return list(values)


def _read_csv(path: Path, label_column):
    import csv

    import numpy as np

    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [(i + 1, row) for i, row in enumerate(csv.reader(f)) if row and any(c.strip() for c in row)]
    if not rows:
        raise CLIError(f"{path} is empty")
    first = [c.strip() for c in rows[0][1]]
    second = [c.strip() for c in rows[1][1]] if len(rows) > 1 else None
    # A header row has a text cell where the next row has a number (or is all text when it is alone).
    if second is not None and len(second) == len(first):
        header = any(_parse_number(a) is None and _parse_number(b) is not None for a, b in zip(first, second))
    else:
        header = all(_parse_number(a) is None for a in first)
    names = first if header else [str(j) for j in range(len(first))]
    body = rows[1:] if header else rows
    if not body:
        raise CLIError(f"{path} has a header but no data rows")

    label_index = None
    if label_column is not None:
        if header and label_column in names:
            label_index = names.index(label_column)
        else:
            try:
                label_index = int(label_column)
            except ValueError:
                known = f"; its columns are {names}" if header else " (it has no header row; give an index)"
                raise CLIError(f"--label-column {label_column!r} is not a column of {path}{known}") from None
            if not -len(names) <= label_index < len(names):
                raise CLIError(f"--label-column {label_index} is out of range: {path} has {len(names)} columns")
            label_index %= len(names)

    features, labels = [], []
    for line, row in body:
        cells = [c.strip() for c in row]
        if len(cells) != len(names):
            raise CLIError(f"{path}, line {line}: {len(cells)} values, expected {len(names)} like the first row")
        values = []
        for j, cell in enumerate(cells):
            if j == label_index:
                labels.append(cell)
                continue
            number = _parse_number(cell)
            if number is None:
                what = "an empty cell" if not cell else f"{cell!r} is not a number"
                hint = "" if label_column is not None else " (a label column? name it with --label-column)"
                raise CLIError(f"{path}, line {line}, column {names[j]!r}: {what}{hint}")
            values.append(number)
        features.append(values)
    X = np.asarray(features, dtype=np.float64)
    if X.shape[1] == 0:
        raise CLIError(f"{path} has no feature columns besides the label column")
    return X, (_labels_from_strings(labels) if label_index is not None else None)


def _load_array(path: Path):
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays, bad headers
        raise CLIError(f"cannot read {path}: {exc}") from exc
    except Exception as exc:  # a truncated or foreign file (zipfile.BadZipFile, EOFError, ...)
        raise CLIError(f"cannot read {path} as {path.suffix}: {type(exc).__name__}: {exc}") from exc


def load_data(path, *, x_key=None, y_key=None, labels=None, label_column=None, images=None,
              need_labels: bool = False) -> Data:
    """Read a data file into ``X`` and optional labels, with messages that name the file and the problem.

    Only numpy and the csv module are used, so a bad file is reported before
    any heavy import.
    """
    import numpy as np

    path = _existing_file(path, "data file")
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise CLIError(f"{path}: unknown data file type {path.suffix or '(none)'!r}; use .npz, .npy or .csv")
    if label_column is not None and suffix != ".csv":
        raise CLIError("--label-column applies to .csv files only; use --y-key for .npz or --labels")
    if (x_key or y_key) and suffix != ".npz":
        raise CLIError("--x-key / --y-key apply to .npz files only")
    y = None
    if suffix == ".npz":
        with _load_array(path) as archive:
            keys = list(archive.files)
            if not keys:
                raise CLIError(f"{path} holds no arrays")
            for key, flag in ((x_key, "--x-key"), (y_key, "--y-key")):
                if key is not None and key not in keys:
                    raise CLIError(f"{flag} {key!r}: {path} holds no such array; it holds {keys}")
            x_name = x_key or next((k for k in ("X", "x") if k in keys), keys[0])
            if y_key is not None:
                y_name = y_key
            elif x_name in ("X", "x"):
                y_name = next((k for k in ("y", "Y") if k in keys), None)
            else:  # no named arrays: the first is X, the second (if any) y
                y_name = keys[1] if len(keys) > 1 else None
            X = archive[x_name]
            y = archive[y_name] if y_name is not None else None
    elif suffix == ".npy":
        X = _load_array(path)
    else:
        X, y = _read_csv(path, label_column)

    if labels is not None:
        label_path = _existing_file(labels, "labels file")
        if label_path.suffix.lower() != ".npy":
            raise CLIError(f"--labels must be a .npy file, got {label_path}")
        y = _load_array(label_path)

    X = np.asarray(X)
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise CLIError(f"{path}: the data array must hold numbers, it holds dtype {X.dtype}")
    if X.ndim < 2 or X.shape[0] == 0:
        raise CLIError(f"{path}: the data array has shape {X.shape}; expected rows of features (n, d)")
    image_shape = _parse_images(images)
    if image_shape is not None:
        size = int(np.prod(image_shape))
        if int(np.prod(X.shape[1:])) != size:
            raise CLIError(f"--images {images}: rows of {path} have {int(np.prod(X.shape[1:]))} values, "
                           f"{'x'.join(map(str, image_shape))} needs {size}")
        X = X.reshape((len(X),) + image_shape)
    elif X.ndim not in (2, 4):
        raise CLIError(f"{path}: the data array has shape {X.shape}; expected (n, d) or (n, c, h, w) "
                       "(give --images C,H,W to reshape rows into images)")
    bad = int(np.sum(~np.isfinite(X))) if X.dtype != bool else 0
    if bad:
        raise CLIError(f"{path} contains {bad} NaN or infinite value(s); clean or impute them first")
    X = X.astype(np.float32)

    if y is not None:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise CLIError(f"labels of {path} must be one-dimensional, got shape {y.shape}")
        if len(y) != len(X):
            raise CLIError(f"{path}: {len(X)} rows of data but {len(y)} labels; they must match")
        if np.issubdtype(y.dtype, np.floating):
            if not np.all(np.isfinite(y)):
                raise CLIError(f"labels of {path} contain NaN or infinite values")
            if np.all(y == np.round(y)):
                y = y.astype(np.int64)
        y = y.tolist()
    elif need_labels:
        raise CLIError(f"{path} has no labels: store them as 'y' in a .npz, pass --labels y.npy, "
                       "or name the CSV column with --label-column")
    return Data(path, X, y)


def _data_from_args(args, need_labels=False, path=None) -> Data:
    return load_data(path or args.data, x_key=args.x_key, y_key=args.y_key, labels=args.labels,
                     label_column=args.label_column, images=args.images, need_labels=need_labels)


# ------------------------------------------------------------- specification files
def _peek_type(path) -> tuple[Path, str]:
    """The ``type`` field of a specification file, read without importing the class that loads it."""
    from .specification.formats import SpecificationFormatError

    path = _existing_file(path, "specification file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecificationFormatError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise SpecificationFormatError(f"{path} has no 'type' field naming its specification type")
    return path, data["type"]


def check_spec_file(path) -> tuple[Path, str]:
    """Check a specification file a command will load: it exists, has a known type, and (for our formats)
    matches its schema and format version. JSON and jsonschema only, so bad files fail fast."""
    from .specification.formats import SCHEMA_FILES, SpecificationFormatError, read_json

    path, type_name = _peek_type(path)
    if type_name not in SPEC_CLASSES:
        raise SpecificationFormatError(f"{path} holds a {type_name!r} specification; this command reads "
                                       f"{sorted(SPEC_CLASSES)}")
    if type_name in SCHEMA_FILES:
        read_json(path, type_name, supported_versions=(_schema_version(type_name),))
    return path, type_name


def load_spec(path, quiet: bool = True):
    """Load a specification file with the class its ``type`` names (LANE, RKME table or Know2Vec)."""
    from importlib import import_module

    from .specification.formats import SpecificationFormatError

    path, type_name = check_spec_file(path)
    _init_learnware(quiet)
    module, class_name = SPEC_CLASSES[type_name]
    spec = getattr(import_module(module), class_name)()
    try:
        spec.load(str(path))
    except (SpecificationFormatError, FileNotFoundError):
        raise
    except Exception as exc:  # the stock RKME loader checks nothing itself
        raise SpecificationFormatError(f"{path} cannot be read as a {type_name}: {type(exc).__name__}: {exc}") from exc
    return spec


def _schema_version(type_name: str) -> int:
    """The format version our schema for ``type_name`` fixes (its ``format_version`` const)."""
    from .specification.formats import schema_for

    return schema_for(type_name)["properties"]["format_version"]["const"]


# ------------------------------------------------------------------------ market
def _open_market(args, must_exist: bool = True):
    """The market named by --market under --root; reading commands refuse to create an empty one."""
    _init_learnware(args.quiet)
    from learnware.config import C

    from .market import instantiate_market

    root = Path(args.root).expanduser().resolve() if args.root else Path(C.market_root_path)
    if must_exist and not (root / args.market / "learnware_pool").is_dir():
        raise CLIError(f"no market {args.market!r} under {root}; create it with "
                       f"`{PROG} add LW.zip --market {args.market} --root {root}`")
    return instantiate_market(args.market, root=root), root


def _name_of(learnware) -> str:
    try:
        return str(learnware.get_specification().get_semantic_spec()["Name"]["Values"])
    except (KeyError, TypeError, AttributeError):
        return ""


def _search(args, data: Data, market):
    """Condense the user's rows into a LANE requirement and search the market with it."""
    import time

    import numpy as np

    from .specification.lane import generate_lane_spec, lane_spec_of
    from .market import user_info

    learnwares = market.get_learnwares()
    if not learnwares:
        raise CLIError(f"market {args.market!r} holds no learnwares; add some with `{PROG} add`")
    sizes = sorted({int(np.prod(s.input_shape)) for s in map(lane_spec_of, learnwares) if s is not None})
    if not sizes:
        raise CLIError(f"no learnware in market {args.market!r} carries a LANE specification")
    size = int(np.prod(data.X.shape[1:]))
    if size not in sizes:
        raise CLIError(f"{data.path} has {size} features per row, but the learnwares in market "
                       f"{args.market!r} take {', '.join(map(str, sizes))}")
    per_class = min(args.per_class, len(data.X))
    _say(args, f"condensing {len(data.X)} rows into a {per_class}-point requirement ...")
    start = time.perf_counter()
    spec = generate_lane_spec(data.X, None, num_per_class=per_class, iterations=args.iterations,
                              seed=args.seed, verbose=not args.quiet)
    result = market.search_learnware(user_info(spec), max_search_num=args.max)
    seconds = time.perf_counter() - start
    singles = [{"id": item.learnware.id, "name": _name_of(item.learnware), "score": float(item.score)}
               for item in result.get_single_results()]
    multiple = result.get_multiple_results()
    mixture = None
    if multiple:
        item = multiple[0]
        weights = getattr(item, "weights", None) or [1.0 / len(item.learnwares)] * len(item.learnwares)
        mixture = {
            "score": float(item.score),
            "mmd2": float(item.mixture.mmd2) if getattr(item, "mixture", None) is not None else None,
            "learnwares": [{"id": lw.id, "name": _name_of(lw), "weight": float(w)}
                           for lw, w in zip(item.learnwares, weights)],
        }
    requirement = {"rows": len(data.X), "input_shape": list(data.X.shape[1:]), "points": per_class,
                   "iterations": spec.condensation["iterations"], "seconds": seconds}
    return {"market": args.market, "requirement": requirement, "mixture": mixture, "singles": singles}, result


def _search_text(payload) -> list[str]:
    req = payload["requirement"]
    lines = [f"requirement: {req['rows']} rows of shape {tuple(req['input_shape'])}, condensed to "
             f"{req['points']} points; search took {req['seconds']:.1f} s"]
    mixture = payload["mixture"]
    if mixture:
        lines.append(f"mixture (score {mixture['score']:.3f}):")
        lines += [f"  {m['id']}  weight {m['weight']:.3f}  {m['name']}" for m in mixture["learnwares"]]
    else:
        lines.append("mixture: none (no learnware reached the weight threshold)")
    lines.append("single learnwares, best first:")
    lines += [f"  {i}. {s['id']}  score {s['score']:.3f}  {s['name']}" for i, s in enumerate(payload["singles"], 1)]
    return lines


# -------------------------------------------------------------------- subcommands
def cmd_generate(args) -> Outcome:
    """Condense a data file into a LANE specification (labelled: a developer's; unlabelled: a requirement)."""
    data = _data_from_args(args)
    y = None if args.unlabelled else data.y
    _init_learnware(args.quiet)
    from .specification.lane import generate_lane_spec

    _say(args, f"condensing {len(data.X)} rows of {data.path} "
               f"({'unlabelled' if y is None else f'{len(set(y))} classes'}) ...")
    spec = generate_lane_spec(data.X, y, num_per_class=args.per_class, iterations=args.iterations,
                              seed=args.seed, init=args.init, verbose=not args.quiet)
    spec.save(args.output)
    payload = {
        "output": str(args.output), "type": spec.type, "input_shape": list(spec.input_shape),
        "classes": spec.classes, "class_counts": spec.class_counts, "points": len(spec.labels),
        "embedding": spec.embedding["kind"], "iterations": spec.condensation["iterations"],
        "seconds": spec.condensation["seconds"], "bytes": Path(args.output).stat().st_size,
    }
    text = (f"wrote {args.output}: LANE specification, {len(spec.classes)} class(es), {payload['points']} points "
            f"of shape {spec.input_shape} ({spec.embedding['kind']} embedding), {payload['seconds']:.1f} s")
    return Outcome(payload, text)


def _flatten_rows(X):
    """Rows of any shape as flat vectors (lets a scikit-learn model take image-shaped input)."""
    import numpy as np

    X = np.asarray(X)
    return X.reshape(len(X), -1)


def _train_model(kind: str, X, y):
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
    path = _existing_file(path, "model file")
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


def cmd_pack(args) -> Outcome:
    """Write a learnware zip: a model (trained here, or a trusted pickle) and its specification files."""
    import numpy as np

    output = Path(args.output)
    if output.suffix.lower() != ".zip":
        raise CLIError(f"-o {output}: a learnware is a .zip file")
    for spec_path in args.specs:
        check_spec_file(spec_path)  # missing or malformed files fail before anything heavy is imported
    data = None
    if args.train:
        kind, data_path = args.train
        if kind not in ESTIMATORS:
            raise CLIError(f"--train: unknown estimator {kind!r}; choose from {', '.join(ESTIMATORS)}")
        data = _data_from_args(args, need_labels=True, path=data_path)
    else:
        _existing_file(args.model, "model file")
        if not args.trust_model:
            _load_model_file(args.model, trust=False)  # raises the explanation

    specs = [load_spec(p, args.quiet) for p in args.specs]
    from .specification.lane import LANESpecification
    from .packaging import default_semantic_spec, output_dimension, pack_learnware

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
        _say(args, f"training {kind} on {len(X)} rows of {data.path} ...")
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
    semantic = default_semantic_spec(shape, output_dimension(lane.classes), name=name,
                                     description=args.description or "")
    pack_learnware(model, specs, output, semantic_spec=semantic)
    payload = {"output": str(output), "name": name, "model": type(model).__name__, "model_source": source,
               "specifications": [s.type for s in specs], "input_shape": list(shape), "classes": lane.classes,
               "bytes": output.stat().st_size}
    text = (f"wrote {output}: learnware {name!r}, {type(model).__name__} ({source}), "
            f"specifications {', '.join(payload['specifications'])}")
    return Outcome(payload, text)


def cmd_add(args) -> Outcome:
    """Submit learnware zips to a market; each is checked, and a rejection says why."""
    import zipfile

    paths = [_existing_file(p, "learnware zip") for p in args.zips]
    for p in paths:
        if not zipfile.is_zipfile(p):
            raise CLIError(f"{p} is not a zip file")
    market, root = _open_market(args, must_exist=False)
    from tqdm.auto import tqdm

    from .packaging import read_semantic_spec

    added, rejected = [], []
    status_names = {1: "usable", 0: "nonusable", -1: "invalid"}
    for path in tqdm(paths, desc="adding learnwares", unit="lw", disable=args.quiet, leave=False):
        try:
            semantic = read_semantic_spec(path)
        except (ValueError, KeyError, zipfile.BadZipFile) as exc:
            rejected.append({"zip": str(path), "reason": str(exc)})
            continue
        learnware_id, status = market.add_learnware(str(path), semantic)
        if learnware_id is None:
            rejected.append({"zip": str(path), "reason": market.rejection_message or "rejected by the market"})
        else:
            added.append({"zip": str(path), "id": learnware_id, "status": status_names.get(status, str(status)),
                          "name": str(semantic.get("Name", {}).get("Values", ""))})
    payload = {"market": args.market, "root": str(root), "added": added, "rejected": rejected,
               "size": len(market)}
    lines = [f"added {a['zip']} as {a['id']} ({a['status']})" for a in added]
    lines += [f"rejected {r['zip']}: {r['reason']}" for r in rejected]
    lines.append(f"market {args.market!r} under {root} holds {len(market)} learnware(s)")
    if rejected:
        print(f"{PROG}: error: {len(rejected)} learnware(s) rejected: "
              + "; ".join(f"{r['zip']}: {r['reason']}" for r in rejected), file=sys.stderr)
    return Outcome(payload, "\n".join(lines), code=2 if rejected else 0)


def cmd_list(args) -> Outcome:
    """The learnwares of a market: id, name, specification types, input shape and classes."""
    market, root = _open_market(args)
    from .specification.lane import lane_spec_of

    rows = []
    for lw in sorted(market.get_learnwares(), key=lambda lw: lw.id):
        lane = lane_spec_of(lw)
        rows.append({"id": lw.id, "name": _name_of(lw),
                     "specifications": sorted(lw.get_specification().get_stat_spec()),
                     "input_shape": list(lane.input_shape) if lane is not None else None,
                     "classes": list(lane.classes) if lane is not None else None})
    payload = {"market": args.market, "root": str(root), "learnwares": rows}
    lines = [f"market {args.market!r} under {root}: {len(rows)} learnware(s)"]
    lines += [f"  {r['id']}  {r['name'] or '-'}  [{', '.join(r['specifications'])}]"
              + (f"  input {tuple(r['input_shape'])}, classes {r['classes']}" if r["input_shape"] else "")
              for r in rows]
    return Outcome(payload, "\n".join(lines))


def cmd_search(args) -> Outcome:
    """Search a market with a user's data: LANE mixture weights (Eq. 9) and single learnwares ranked."""
    data = _data_from_args(args)
    market, _ = _open_market(args)
    payload, _ = _search(args, data, market)
    return Outcome(payload, "\n".join(_search_text(payload)))


def cmd_reuse(args) -> Outcome:
    """Search, then predict every user row with the learnware the job selector assigns it to."""
    import time

    import numpy as np

    output = Path(args.output)
    if output.suffix.lower() not in PREDICTION_SUFFIXES:
        raise CLIError(f"-o {output}: predictions are written as .npy or .csv")
    data = _data_from_args(args)
    market, _ = _open_market(args)
    payload, result = _search(args, data, market)
    from .reuse import LANEJobSelectorReuser

    multiple = result.get_multiple_results()
    if multiple:
        learnwares, weights = multiple[0].learnwares, getattr(multiple[0], "weights", None) or None
    elif result.get_single_results():
        learnwares, weights = [result.get_single_results()[0].learnware], [1.0]
    else:
        raise CLIError(f"the search of market {args.market!r} returned no learnware to reuse", code=1)
    _say(args, f"reusing {len(learnwares)} learnware(s) ...")
    start = time.perf_counter()
    reuser = LANEJobSelectorReuser(learnwares, weights, random_state=args.seed)
    predictions = reuser.predict(data.X)
    assignment = reuser.job_assignment(data.X)
    seconds = time.perf_counter() - start
    if predictions.dtype == object:
        predictions = predictions.astype(str)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".npy":
        np.save(output, predictions, allow_pickle=False)
    else:
        np.savetxt(output, predictions.reshape(len(predictions), -1), fmt="%s", delimiter=",")
    rows_per = {learnwares[i].id: int(np.sum(assignment == i)) for i in range(len(learnwares))}
    accuracy = None
    if data.y is not None:
        accuracy = float(np.mean(predictions.reshape(len(predictions)) == np.asarray(data.y)))
    payload.update({"output": str(output), "rows": len(predictions), "rows_per_learnware": rows_per,
                    "accuracy": accuracy, "reuse_seconds": seconds})
    lines = _search_text(payload)
    lines.append(f"wrote {len(predictions)} predictions to {output} ({seconds:.2f} s); rows per learnware: "
                 + ", ".join(f"{k} {v}" for k, v in rows_per.items()))
    if accuracy is not None:
        lines.append(f"accuracy against the labels of {data.path}: {accuracy:.3f}")
    return Outcome(payload, "\n".join(lines))


def cmd_compare(args) -> Outcome:
    """Distance and similarity of two specification files, by ``k2v_learnware.compare``."""
    for p in (args.a, args.b):
        check_spec_file(p)  # missing or malformed files fail before anything heavy is imported
    a, b = load_spec(args.a, args.quiet), load_spec(args.b, args.quiet)
    try:
        from .compare import compare_specifications
    except ImportError as exc:
        raise CLIError(f"this installation has no k2v_learnware.compare: {exc}", code=1) from exc
    if a.type == b.type == "Know2VecSpecification" and not args.proxy:
        raise CLIError("two Know2Vec specifications are compared in a trained proxy's space: "
                       "give its folder with --proxy DIR (e.g. <market>/know2vec/proxy)")
    proxy = None
    if args.proxy:
        from .retrieval.proxy import Know2VecProxy

        folder = Path(args.proxy)
        if not folder.is_dir():
            raise FileNotFoundError(f"proxy folder not found: {folder}")
        proxy = Know2VecProxy.load(folder)
    result = compare_specifications(a, b, proxy=proxy)
    payload = {"a": str(args.a), "b": str(args.b), "type_a": a.type, "type_b": b.type,
               "method": result.method, "distance": float(result.distance), "similarity": float(result.similarity),
               "details": dict(getattr(result, "details", None) or {})}
    text = (f"{args.a} ({a.type}) vs {args.b} ({b.type}): distance {payload['distance']:.6g}, "
            f"similarity {payload['similarity']:.4f} ({result.method})")
    return Outcome(payload, text)


def _summarise_lane(data) -> tuple[dict, list[str]]:
    from math import prod

    from .specification.formats import SpecificationFormatError

    flat = prod(data["input_shape"])
    problems = []
    if any(len(row) != flat for row in data["z"]):
        problems.append(f"z rows must have {flat} values for input_shape {data['input_shape']}")
    if len(data["labels"]) != len(data["z"]):
        problems.append(f"{len(data['labels'])} labels for {len(data['z'])} samples")
    if len(data["class_counts"]) != len(data["classes"]):
        problems.append("class_counts and classes differ in length")
    if problems:
        raise SpecificationFormatError("inconsistent: " + "; ".join(problems))
    per_class = {str(c): sum(1 for v in data["labels"] if v == c) for c in data["classes"]}
    info = {"input_shape": data["input_shape"], "classes": data["classes"], "class_counts": data["class_counts"],
            "points": len(data["z"]), "points_per_class": per_class, "embedding": data["embedding"],
            "condensation": data["condensation"], "feature_range": data["feature_range"]}
    cond, emb = data["condensation"], data["embedding"]
    lines = [
        f"input shape {tuple(data['input_shape'])}, {len(data['z'])} points",
        "classes (real samples / points): " + ", ".join(
            f"{c!r} ({n} / {per_class[str(c)]})" for c, n in zip(data["classes"], data["class_counts"])),
        f"embedding: {emb['kind']} width {emb['width']} depth {emb['depth']}, "
        f"family seed {emb['seed']}, {emb['num_nets']} networks",
        f"condensation: {cond['num_per_class']} per class, {cond['iterations']} iterations, batch {cond['batch_real']}, "
        f"{cond['optimizer']} lr {cond['lr']}, init {cond['init']}, seed {cond['seed']}"
        + (f", {cond['seconds']:.1f} s" if isinstance(cond.get("seconds"), (int, float)) else ""),
        f"feature range [{data['feature_range'][0]:g}, {data['feature_range'][1]:g}]",
    ]
    return info, lines


def _summarise_know2vec(data) -> tuple[dict, list[str]]:
    K = len(data["classes"])
    found = sum(node is not None for row in data["nodes"] for node in row)
    info = {"input_shape": data["input_shape"], "classes": data["classes"], "present": data["present"],
            "nodes_found": found, "nodes_total": K * K, "queries": data["queries"], "settings": data["settings"]}
    lines = [f"input shape {tuple(data['input_shape'])}, classes {data['classes']} "
             f"({sum(data['present'])} reached by the probe set)",
             f"boundary graph: {found} of {K * K} nodes, {data['queries']} model queries",
             "settings: " + ", ".join(f"{k} {v}" for k, v in data["settings"].items())]
    return info, lines


def _summarise_proxy(data) -> tuple[dict, list[str]]:
    keys = ("in_features", "num_models", "hidden", "embedding_dim", "margin", "alpha", "lr", "epochs",
            "samples_per_class", "batch_size", "seed", "final_loss")
    info = {k: data.get(k) for k in keys}
    return info, ["proxy settings: " + ", ".join(f"{k} {info[k]}" for k in keys)]


def _summarise_rkme(data) -> tuple[dict, list[str]]:
    z = data.get("z") or []
    info = {"points": len(z), "gamma": data.get("gamma"), "num_points": data.get("num_points")}
    shape = None
    if z and isinstance(z[0], list):
        shape, row = [], z[0]
        while isinstance(row, list):
            shape.append(len(row))
            row = row[0] if row else None
    info["input_shape"] = shape
    return info, [f"stock learnware format (no schema of ours): {len(z)} points of shape {tuple(shape or ())}, "
                  f"gamma {data.get('gamma')}"]


def cmd_inspect(args) -> Outcome:
    """Validate one specification file against its schema and format version, and summarise it.

    Light on purpose: JSON and jsonschema only, no torch or ``learnware``.
    """
    from .specification.formats import SCHEMA_FILES, SpecificationFormatError, read_json

    spec = Path(args.spec)
    if spec.is_dir() and (spec / "proxy.json").is_file():  # a Know2Vec proxy folder
        spec = spec / "proxy.json"
    path, type_name = _peek_type(spec)
    summarisers = {"LANESpecification": _summarise_lane, "Know2VecSpecification": _summarise_know2vec,
                   "Know2VecProxy": _summarise_proxy}
    if type_name in SCHEMA_FILES:
        version = _schema_version(type_name)
        data = read_json(path, type_name, supported_versions=(version,))
        try:
            info, lines = summarisers[type_name](data)
        except SpecificationFormatError as exc:
            raise SpecificationFormatError(f"{path} is {exc}") from exc
        schema = SCHEMA_FILES[type_name]
    elif type_name == "RKMETableSpecification":
        data = json.loads(path.read_text(encoding="utf-8"))
        info, lines = _summarise_rkme(data)
        schema = None
    else:
        raise SpecificationFormatError(f"{path} holds a {type_name!r} file; inspect reads "
                                       f"{sorted(SCHEMA_FILES) + ['RKMETableSpecification']}")
    size = path.stat().st_size
    payload = {"file": str(path), "type": type_name, "format_version": data.get("format_version"),
               "schema": schema, "valid": True, "bytes": size, **info}
    head = (f"{path}: {type_name}, format version {data.get('format_version', '-')}"
            + (f", valid against specs/{schema}" if schema else "") + f", {size:,} bytes")
    return Outcome(payload, "\n".join([head] + ["  " + line for line in lines]))


# ------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser (no heavy imports: ``--help`` must be instant)."""
    from . import __version__

    common = argparse.ArgumentParser(add_help=False)
    flags = common.add_argument_group("output")
    # SUPPRESS: a flag given before the subcommand is not reset by the subcommand's default.
    flags.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="print one JSON document on stdout and nothing else there")
    flags.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars or chatter; errors still go to stderr")
    flags.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show a traceback on errors")

    data_opts = argparse.ArgumentParser(add_help=False)
    group = data_opts.add_argument_group("data file")
    group.add_argument("--x-key", metavar="KEY", help=".npz: the array holding X (default 'X', else the first)")
    group.add_argument("--y-key", metavar="KEY", help=".npz: the array holding labels (default 'y', else the second)")
    group.add_argument("--labels", metavar="FILE.npy", help="labels from a separate .npy file")
    group.add_argument("--label-column", metavar="NAME|INDEX", help=".csv: the label column (by header name or index)")
    group.add_argument("--images", metavar="C,H,W", help="reshape each row into an image of this shape")

    market_opts = argparse.ArgumentParser(add_help=False)
    group = market_opts.add_argument_group("market")
    group.add_argument("--market", default=os.environ.get("K2V_MARKET", "k2v"),
                       help="market name (default: $K2V_MARKET or 'k2v')")
    group.add_argument("--root", default=os.environ.get("K2V_MARKET_ROOT"),
                       help="folder holding the market's files and SQLite index "
                            "(default: $K2V_MARKET_ROOT, else learnware's ~/.learnware)")

    search_opts = argparse.ArgumentParser(add_help=False)
    group = search_opts.add_argument_group("requirement")
    group.add_argument("--per-class", type=_count(1), default=50, metavar="K",
                       help="points in the user's condensed requirement (default 50)")
    group.add_argument("--iterations", type=_count(0), metavar="N",
                       help="condensation iterations (default 600 for a requirement)")
    group.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    group.add_argument("--max", type=_count(1), default=5, metavar="N", help="at most N learnwares returned (default 5)")

    parser = argparse.ArgumentParser(
        prog=PROG, parents=[common],
        description="LANE specifications and a learnware market (Beimingwu) from the command line.",
        epilog="Exit codes: 0 success, 2 bad input or usage, 1 other failures. "
               f"`{PROG} COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, func, help_text, parents=()):
        p = sub.add_parser(name, parents=[common, *parents], help=help_text, description=func.__doc__)
        p.set_defaults(func=func)
        return p

    p = add("generate", cmd_generate, "condense a .npz/.npy/.csv data file into a LANE specification", [data_opts])
    p.add_argument("data", metavar="DATA", help="data file (.npz, .npy or .csv)")
    p.add_argument("-o", "--output", required=True, metavar="SPEC.json", help="specification file to write")
    p.add_argument("--per-class", type=_count(1), default=10, metavar="K", help="synthetic points per class (default 10)")
    p.add_argument("--iterations", type=_count(0), metavar="N",
                   help="condensation iterations (default 200 labelled, 600 unlabelled)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--init", choices=("real", "kmeans", "noise"), default="real",
                   help="starting points; kmeans and noise never copy a real row into the spec (default real)")
    p.add_argument("--unlabelled", action="store_true", help="ignore labels: a user's requirement")

    p = add("pack", cmd_pack, "pack a model and its specification files into a learnware zip", [data_opts])
    p.add_argument("specs", nargs="+", metavar="SPEC", help="specification files: one LANE, optionally an RKME")
    p.add_argument("-o", "--output", required=True, metavar="LW.zip", help="learnware zip to write")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--train", nargs=2, metavar=("ESTIMATOR", "DATA"),
                        help=f"train a scikit-learn model ({', '.join(ESTIMATORS)}) on a labelled data file here")
    source.add_argument("--model", metavar="FILE", help="a fitted model saved as .joblib or .pkl (needs --trust-model)")
    p.add_argument("--trust-model", action="store_true",
                   help="allow loading --model: unpickling executes code from the file, use only files you trust")
    p.add_argument("--name", help="learnware name (default: the zip's file name)")
    p.add_argument("--description", help="learnware description")

    p = add("add", cmd_add, "submit learnware zips to a market", [market_opts])
    p.add_argument("zips", nargs="+", metavar="LW.zip", help="learnware zips")

    add("list", cmd_list, "list the learnwares of a market", [market_opts])

    p = add("search", cmd_search, "search a market with a user's data", [market_opts, search_opts, data_opts])
    p.add_argument("data", metavar="DATA", help="the user's data file (labels, if any, are ignored)")

    p = add("reuse", cmd_reuse, "search, then predict the user's rows with the learnwares found",
            [market_opts, search_opts, data_opts])
    p.add_argument("data", metavar="DATA", help="the user's data file (with labels, accuracy is reported)")
    p.add_argument("-o", "--output", required=True, metavar="PRED.npy", help="predictions file (.npy or .csv)")

    p = add("compare", cmd_compare, "distance and similarity of two specification files")
    p.add_argument("a", metavar="A.json")
    p.add_argument("b", metavar="B.json")
    p.add_argument("--proxy", metavar="DIR",
                   help="a fitted Know2Vec proxy folder (proxy.json + proxy.pt), to compare two Know2Vec specs")

    p = add("inspect", cmd_inspect, "validate a specification file and summarise it")
    p.add_argument("spec", metavar="SPEC.json", help="a LANE, Know2Vec or RKME file, or a proxy folder")
    return parser


# -------------------------------------------------------------------------- main
@contextlib.contextmanager
def _stdout_to_stderr():
    """Send everything written to stdout (Python or C level) to stderr, so --json output stays clean."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout file descriptor
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _error(args, message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    if args is not None and args.json:
        print(json.dumps({"error": message, "exit_code": code}))
    return code


def main(argv=None) -> int:
    """Run one command; returns the exit code (0 success, 2 bad input or usage, 1 other failure)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    for flag in ("json", "quiet", "debug"):
        if not hasattr(args, flag):
            setattr(args, flag, False)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2

    from .specification.formats import SpecificationFormatError

    try:
        with (_stdout_to_stderr() if args.json else contextlib.nullcontext()):
            outcome = args.func(args)
    except KeyboardInterrupt:
        return _error(args, "interrupted", 130)
    except Exception as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        if isinstance(exc, CLIError):
            return _error(args, str(exc), exc.code)
        if isinstance(exc, FileNotFoundError):
            message = str(exc) if not exc.filename else f"file not found: {exc.filename}"
            return _error(args, message, 2)
        if isinstance(exc, (SpecificationFormatError, ValueError, TypeError, IsADirectoryError, PermissionError)):
            return _error(args, str(exc), 2)
        kind = "" if isinstance(exc, (RuntimeError, OSError)) else f"{type(exc).__name__}: "
        hint = "" if args.debug else " (run with --debug for a traceback)"
        return _error(args, f"{kind}{exc}{hint}", 1)
    try:
        print(json.dumps(outcome.payload, default=_to_jsonable) if args.json else outcome.text)
        sys.stdout.flush()
    except BrokenPipeError:  # `k2v-learnware ... | head`: the reader left, which is not our failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return outcome.code


if __name__ == "__main__":
    sys.exit(main())
