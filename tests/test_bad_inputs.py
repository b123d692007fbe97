"""A catalogue of bad inputs: each must fail with the exact exception type and a message naming the problem.

Every public entry, every file we read, learnware zips, the market and the CLI
(categories in the README, "Bad input"). The only exceptions a user may see are
``TypeError``, ``ValueError`` and our ``SpecificationFormatError`` (with its
``SpecificationFileNotFound``); the CLI prints one ``k2v-learnware: error:``
line and exits 2; the market refuses a zip with a reason.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import io
import json
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from k2v_learnware import LANESpecification, Know2VecSpecification, generate_know2vec_spec, generate_lane_spec
from k2v_learnware import pack_learnware
from k2v_learnware.specification.formats import SpecificationFileNotFound, SpecificationFormatError

FormatError = SpecificationFormatError


class CLIRefusal(Exception):
    """The CLI exited 2 with exactly one ``k2v-learnware: error:`` line (the line is the message)."""


class MarketRefusal(Exception):
    """The market refused a zip (the message is its ``rejection_message``)."""


@dataclass
class Case:
    name: str
    run: Callable
    exc: type
    fragment: str


CASES: list[Case] = []


def bad(name: str, exc: type, fragment: str):
    def register(run):
        CASES.append(Case(name, run, exc, fragment))
        return run
    return register


# ------------------------------------------------------------------ shared valid inputs
@functools.cache
def digits():
    from k2v_learnware.datasets import load_digits

    X, y = load_digits()
    rows = np.isin(y, (0, 1, 2))
    return X[rows][:240].astype(np.float32), y[rows][:240]


@functools.cache
def lane():
    X, y = digits()
    return generate_lane_spec(X, y, num_per_class=3, iterations=3, verbose=False)


@functools.cache
def model():
    from sklearn.linear_model import LogisticRegression

    X, y = digits()
    return LogisticRegression(max_iter=200).fit(X, y)


@functools.cache
def know2vec():
    X, _ = digits()
    return generate_know2vec_spec(model(), X[:60])


@functools.cache
def folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="k2v-bad-inputs-"))


@functools.cache
def good_zip() -> Path:
    return pack_learnware(model(), lane(), folder() / "good.zip", name="good")


@functools.cache
def market():
    from k2v_learnware.market import instantiate_market

    return instantiate_market("bad-inputs", root=folder() / "market")


def lane_file(tmp_path, mutate=None, text=None) -> Path:
    """A LANE spec file: the valid one changed by ``mutate(doc)``, or ``text`` verbatim."""
    path = tmp_path / "spec.json"
    if text is None:
        doc = copy.deepcopy(lane().to_dict())
        if mutate is not None:
            mutate(doc)
        text = json.dumps(doc)
    path.write_text(text)
    return path


def load_lane(path):
    LANESpecification().load(path)


def k2v_file(tmp_path, mutate) -> Path:
    doc = copy.deepcopy(know2vec().to_dict())
    mutate(doc)
    path = tmp_path / "k2v.json"
    path.write_text(json.dumps(doc))
    return path


def load_k2v(path):
    Know2VecSpecification().load(path)


def cli(*argv, cwd=None):
    """Run the CLI in-process; a refusal (exit 2, one error line) becomes :class:`CLIRefusal`."""
    from k2v_learnware.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), contextlib.chdir(cwd or folder()):
        code = main(list(argv))
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("k2v-learnware: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err.getvalue(), (code, err.getvalue()[-2000:])
    raise CLIRefusal(errors[0])


def submit(path):
    """Add a zip to the shared market; a refusal becomes :class:`MarketRefusal`."""
    from k2v_learnware.packaging import read_semantic_spec

    try:
        semantic = read_semantic_spec(path)
    except (KeyError, zipfile.BadZipFile, json.JSONDecodeError):
        semantic = read_semantic_spec(good_zip())
    learnware_id, _ = market().add_learnware(str(path), semantic)
    assert learnware_id is None, f"{path.name} was accepted as {learnware_id}"
    raise MarketRefusal(market().rejection_message)


def rezip(tmp_path, name="bad.zip", replace=None, drop=(), add=None) -> Path:
    """The good zip with members replaced, dropped or added."""
    replace, add = replace or {}, add or {}
    out = tmp_path / name
    with zipfile.ZipFile(good_zip()) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename in drop:
                continue
            dst.writestr(item.filename, replace.get(item.filename, src.read(item.filename)))
        for name_, data in add.items():
            dst.writestr(name_, data)
    return out


def yaml_with(**stat_entry) -> bytes:
    import yaml

    with zipfile.ZipFile(good_zip()) as src:
        config = yaml.safe_load(src.read("learnware.yaml"))
    config["stat_specifications"][0].update(stat_entry)
    return yaml.safe_dump(config).encode()


def gen(**options):
    X, y = digits()
    options = {"num_per_class": 2, "iterations": 2, "verbose": False, **options}
    return generate_lane_spec(options.pop("X", X), options.pop("y", y), **options)


# ------------------------------------------------------------------ generate_lane_spec
bad("generate: X is None", TypeError, "X must be an array")(lambda t: gen(X=None))
bad("generate: X of strings", TypeError, "must hold numbers")(lambda t: gen(X=np.array([["a", "b"]] * 240)))
bad("generate: ragged X", TypeError, "could not be read")(lambda t: gen(X=[[1.0, 2.0], [1.0]] * 120))
bad("generate: complex X", TypeError, "real numbers")(lambda t: gen(X=digits()[0] + 1j))
bad("generate: X 1-D", ValueError, "must have shape")(lambda t: gen(X=np.zeros(240)))
bad("generate: X 3-D", ValueError, "must have shape")(lambda t: gen(X=np.zeros((240, 8, 8))))
bad("generate: X empty", ValueError, "is empty")(lambda t: gen(X=np.zeros((0, 64)), y=[]))
bad("generate: X without features", ValueError, "no features")(lambda t: gen(X=np.zeros((240, 0))))
bad("generate: X with NaN", ValueError, "NaN or infinite")(
    lambda t: gen(X=np.where(np.eye(240, 64, dtype=bool), np.nan, digits()[0])))
bad("generate: X with inf", ValueError, "NaN or infinite")(lambda t: gen(X=np.full((240, 64), np.inf)))
bad("generate: X beyond float32", ValueError, "beyond the range of float32")(
    lambda t: gen(X=digits()[0].astype(np.float64) * 1e300))
bad("generate: X near 1e30 diverges", ValueError, "diverged")(lambda t: gen(X=digits()[0] * 1e30 + 1e30))
bad("generate: a single row", ValueError, "needs at least 2")(lambda t: gen(X=digits()[0][:1], y=None, num_per_class=1))
bad("generate: y too short", ValueError, "labels but X has")(lambda t: gen(y=digits()[1][:10]))
bad("generate: y 2-D", ValueError, "one-dimensional")(lambda t: gen(y=digits()[1].reshape(-1, 1)))
bad("generate: y a string", TypeError, "sequence of labels")(lambda t: gen(y="abc"))
bad("generate: y with NaN label", ValueError, "non-finite label")(
    lambda t: gen(y=np.where(np.arange(240) == 0, np.nan, digits()[1].astype(float))))
bad("generate: y of tuples", TypeError, "labels must be")(lambda t: gen(y=[(1, 2)] * 240))
bad("generate: y mixing str and int", TypeError, "mixes label types")(
    lambda t: gen(y=["a" if i % 2 else 1 for i in range(240)]))
bad("generate: num_per_class 0", ValueError, "num_per_class must be >= 1")(lambda t: gen(num_per_class=0))
bad("generate: num_per_class a float", TypeError, "num_per_class must be an integer")(lambda t: gen(num_per_class=2.5))
bad("generate: num_per_class huge", ValueError, "num_per_class must be <= 10000")(lambda t: gen(num_per_class=10**6))
bad("generate: num_per_class above a class", ValueError, "fewer than num_per_class")(lambda t: gen(num_per_class=200))
bad("generate: iterations negative", ValueError, "iterations must be >= 0")(lambda t: gen(iterations=-1))
bad("generate: iterations huge", ValueError, "iterations must be <= 1000000")(lambda t: gen(iterations=10**9))
bad("generate: batch_real 0", ValueError, "batch_real must be >= 1")(lambda t: gen(batch_real=0))
bad("generate: lr 0", ValueError, "lr must be a finite number > 0")(lambda t: gen(lr=0))
bad("generate: lr nan", ValueError, "lr must be a finite number > 0")(lambda t: gen(lr=float("nan")))
bad("generate: lr a string", TypeError, "lr must be a number")(lambda t: gen(lr="fast"))
bad("generate: lr 1e30 diverges", ValueError, "diverged")(lambda t: gen(lr=1e30, iterations=5))
bad("generate: unknown optimizer", ValueError, "optimizer must be one of")(lambda t: gen(optimizer="lbfgs"))
bad("generate: unknown init", ValueError, "init must be one of")(lambda t: gen(init="zeros"))
bad("generate: unknown embedding", ValueError, "embedding must be one of")(lambda t: gen(embedding="resnet"))
bad("generate: unknown normalization", ValueError, "normalization must be one of")(
    lambda t: gen(normalization="batch"))
bad("generate: seed negative", ValueError, "seed must be >= 0")(lambda t: gen(seed=-1))
bad("generate: seed beyond 2**32", ValueError, "seed must be <= 4294967295")(lambda t: gen(seed=2**40))
bad("generate: seed a float", TypeError, "seed must be an integer")(lambda t: gen(seed=1.5))
bad("generate: family_seed a string", TypeError, "family_seed must be an integer")(lambda t: gen(family_seed="0"))
bad("generate: num_nets 0", ValueError, "num_nets must be >= 1")(lambda t: gen(num_nets=0))
bad("generate: num_nets huge", ValueError, "num_nets must be <= 64")(lambda t: gen(num_nets=10**6))
bad("generate: width huge", ValueError, "width must be <= 4096")(lambda t: gen(width=10**7))
bad("generate: depth 0", ValueError, "depth must be >= 1")(lambda t: gen(depth=0))
bad("generate: depth huge", ValueError, "depth must be <= 16")(lambda t: gen(depth=1000))
bad("generate: images of one pixel", ValueError, "needs images of at least 2x2 pixels, got 1x1; use embedding='mlp'")(
    lambda t: gen(X=digits()[0].reshape(-1, 64, 1, 1)))
bad("LANESpecification(num_nets=-3)", ValueError, "num_nets must be >= 1")(lambda t: LANESpecification(num_nets=-3))
bad("generate: more points than a file holds", ValueError, "would be 110000 points, more than the 100000")(
    lambda t: gen(X=np.arange(11.0).reshape(11, 1), y=np.arange(11), num_per_class=10000, init="noise"))
bad("generate: more classes than a file holds", ValueError, "10001 classes, more than the 10000")(
    lambda t: gen(X=np.zeros((10001, 1)), y=np.arange(10001), num_per_class=1, init="noise"))
bad("generate: more features than a file holds", ValueError, "1000001 features per sample, more than")(
    lambda t: gen(X=np.zeros((2, 1_000_001), np.float32), y=None, num_per_class=1))
bad("generate: points x features over a file's size", ValueError, "would make a file over the 67108864 bytes")(
    lambda t: gen(X=np.zeros((2, 400_000), np.float32), y=[0, 1], num_per_class=50, init="noise"))

# ------------------------------------------------------------------ LANESpecification methods
bad("empty spec: get_z", ValueError, "is empty")(lambda t: LANESpecification().get_z())
bad("empty spec: save", ValueError, "is empty")(lambda t: LANESpecification().save(t / "x.json"))
bad("sample_class: unknown label", ValueError, "not a class of this specification")(
    lambda t: lane().sample_class(7, 5))
bad("sample_class: n negative", ValueError, "n must be >= 0")(lambda t: lane().sample_class(0, -1))
bad("sample_class: n a float", TypeError, "n must be an integer")(lambda t: lane().sample_class(0, 2.5))
bad("sample_class: random_state None", TypeError, "random_state must be an integer")(
    lambda t: lane().sample_class(0, 5, random_state=None))
bad("sample_class: random_state negative", ValueError, "random_state must be >= 0")(
    lambda t: lane().sample_class(0, 5, random_state=-1))
bad("dist: against an RKME spec", TypeError, "can only compare a LANESpecification")(
    lambda t: lane().dist(know2vec()))
bad("dist: other feature size", ValueError, "feature dimensions differ")(
    lambda t: lane().dist(gen(X=digits()[0][:, :32])))
bad("release_points: built in memory", ValueError, "not loaded from a file")(lambda t: gen().release_points())
bad("release_points: reload not callable", TypeError, "reload must be a callable")(
    lambda t: gen().release_points(reload="file.json"))
bad("set_class_mean_embeddings: wrong shape", ValueError, "finite (3, D) array")(
    lambda t: gen().set_class_mean_embeddings("k", np.zeros((2, 4))))
bad("set_class_mean_embeddings: NaN", ValueError, "finite (3, D) array")(
    lambda t: gen().set_class_mean_embeddings("k", np.full((3, 4), np.nan)))

bad("set_class_mean_embeddings: beyond float32", ValueError, "got values beyond the float32 range")(
    lambda t: gen().set_class_mean_embeddings("k", np.full((3, 4), 1e300)))
bad("set_class_mean_embeddings: strings", TypeError, "of real numbers, got dtype <U1")(
    lambda t: gen().set_class_mean_embeddings("k", np.full((3, 4), "a")))
bad("class_mean_embeddings: family a string", TypeError, "family must be a RandomEmbedding")(
    lambda t: gen().class_mean_embeddings("family"))
bad("mean_embedding: family of another size", ValueError, "the feature dimensions differ")(
    lambda t: gen().mean_embedding(gen(X=digits()[0][:, :32]).embedding_family()))
bad("lane: covariance of a list label", ValueError, "label [0] is not a class")(lambda t: lane().class_covariance([0]))
bad("lane: a trillion mimic samples", ValueError, "n must be <=")(lambda t: lane().sample_class(0, 10**12))
bad("lane: save to no path", TypeError, "path must be a file path")(lambda t: lane().save(None))
bad("lane: load from an int", TypeError, "path must be a file path")(lambda t: LANESpecification().load(3))
bad("lane: save to a bytes path", TypeError, "path must be a file path")(lambda t: lane().save(bytes(t / "s.json")))


# ------------------------------------------------------------------ LANE spec files
def _set(path, value):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _spec_case(name, fragment, mutate=None, text=None, exc=FormatError):
    bad(f"LANE file: {name}", exc, fragment)(lambda t: load_lane(lane_file(t, mutate, text)))


bad("LANE file: missing", SpecificationFileNotFound, "specification file not found")(
    lambda t: load_lane(t / "absent.json"))
bad("LANE file: a folder", SpecificationFileNotFound, "specification file not found")(lambda t: load_lane(t))
_spec_case("not JSON", "is not valid JSON", text="{not json")
bad("LANE file: not UTF-8", FormatError, "is not valid JSON")(
    lambda t: (t.joinpath("b.json").write_bytes(b"\xff\xfe{}"), load_lane(t / "b.json")))
_spec_case("a JSON list", "must hold a JSON object", text="[1, 2]")
_spec_case("deeply nested", "nests its JSON too deeply", text="[" * 100000 + "]" * 100000)
_spec_case("another type", "holds a 'Know2VecSpecification' specification", _set(["type"], "Know2VecSpecification"))
_spec_case("unknown version", "has format_version 5", _set(["format_version"], 5))
_spec_case("NaN in z", "NaN is not a number", text=json.dumps(lane().to_dict()).replace("[[", "[[NaN, ", 1))
_spec_case("Infinity in z", "Infinity is not a number",
           text=json.dumps(lane().to_dict()).replace("[[", "[[Infinity, ", 1))
_spec_case("-Infinity in feature_range", "-Infinity is not a number",
           text=json.dumps(lane().to_dict()).replace('"feature_range": [', '"feature_range": [-Infinity, ', 1))
_spec_case("1e999 in z", "1e999 is beyond the range", text=json.dumps(lane().to_dict()).replace("[[", "[[1e999, ", 1))
_spec_case("1e308 in z (beyond float32)", "beyond the float32 range",
           lambda d: d["z"][0].__setitem__(0, 1e308))
_spec_case("huge integer in z", "beyond the float32 range", lambda d: d["z"][0].__setitem__(0, 10**400))
_spec_case("z missing", "'z' is a required property", lambda d: d.pop("z"))
_spec_case("extra field", "Additional properties are not allowed", _set(["extra"], 1))
_spec_case("z a string", "does not match the LANESpecification schema at z", _set(["z"], "points"))
_spec_case("z row of strings", "at z/0/0", lambda d: d["z"][0].__setitem__(0, "x"))
_spec_case("z row too short", "z rows must have 64 values", lambda d: d["z"][0].pop())
_spec_case("labels too few", "labels for", lambda d: d["labels"].pop())
_spec_case("label not in classes", "not in classes", lambda d: d["labels"].__setitem__(0, 99))
_spec_case("duplicate classes", "classes must be distinct",
           lambda d: d.update(classes=[0, 0, 1], class_counts=[1, 1, 1]))
_spec_case("classes mixing bool and int", "classes mix JSON types",
           lambda d: d.update(classes=[True, 1, 2], class_counts=[1, 1, 1]))
_spec_case("classes mixing str and int", "classes mix JSON types",
           lambda d: d.update(classes=["0", 1, 2], class_counts=[1, 1, 1]))
_spec_case("class_counts length", "class_counts and classes differ", lambda d: d["class_counts"].pop())
_spec_case("class count 0", "at class_counts/0", lambda d: d["class_counts"].__setitem__(0, 0))
_spec_case("class count beyond a float", "at class_counts/0", lambda d: d["class_counts"].__setitem__(0, 10**400))
_spec_case("a class without points", "classes [1, 2] have no points", lambda d: d.update(labels=[0] * len(d["labels"])))
_spec_case("convnet family over vectors", "embedding family cannot be built: a 'convnet' embedding takes images",
           _set(["embedding", "kind"], "convnet"))
_spec_case("convnet deeper than the image", "embedding family cannot be built: depth 5 halves a 8x8 image",
           lambda d: d.update(input_shape=[1, 8, 8], embedding=dict(d["embedding"], kind="convnet",
                                                                    input_shape=[1, 8, 8], depth=5)))
_spec_case("input_shape 4-D", "at input_shape", _set(["input_shape"], [1, 2, 4, 8]))
_spec_case("input_shape too many features", "features per sample", _set(["input_shape"], [1000, 1000, 1000]))
_spec_case("embedding input_shape mismatch", "embedding input_shape does not match",
           _set(["embedding", "input_shape"], [32]))
_spec_case("num_nets huge", "at embedding/num_nets", _set(["embedding", "num_nets"], 10**6))
_spec_case("width huge", "at embedding/width", _set(["embedding", "width"], 10**6))
_spec_case("depth huge", "at embedding/depth", _set(["embedding", "depth"], 10**3))
_spec_case("negative seed", "at embedding/seed", _set(["embedding", "seed"], -1))
_spec_case("unknown kind", "at embedding/kind", _set(["embedding", "kind"], "resnet"))
_spec_case("format 2 without normalization", "must name its normalization",
           lambda d: d["embedding"].pop("normalization"))
_spec_case("lr 0", "at condensation/lr", _set(["condensation", "lr"], 0))
_spec_case("feature_range reversed", "feature_range must be finite [min, max]", _set(["feature_range"], [1.0, 0.0]))
_spec_case("z too many rows", "at z", lambda d: d.update(z=[[0.0]] * 100001))
bad("LANE file: over the size limit", FormatError, "more than the")(
    lambda t: (t.joinpath("big.json").write_bytes(b" " * (64 * 2**20 + 1)), load_lane(t / "big.json")))


# ------------------------------------------------------------------ Know2Vec: API and files
def _with_settings(spec, **settings):
    """A copy of ``spec`` with extra ``settings`` (the schema allows any there)."""
    spec = copy.deepcopy(spec)
    spec.settings.update(settings)
    return spec


def _fake_model(predict):
    class Model:
        def predict(self, X):
            return predict(X)
    return Model()


bad("know2vec: model without predict", TypeError, "predict")(lambda t: generate_know2vec_spec(object(), digits()[0]))
bad("know2vec: probe with NaN", ValueError, "NaN or infinite")(
    lambda t: generate_know2vec_spec(model(), np.full((20, 64), np.nan)))
bad("know2vec: probe 1-D", ValueError, "must have shape")(lambda t: generate_know2vec_spec(model(), np.zeros(64)))
bad("know2vec: one-class model", ValueError, "class")(
    lambda t: generate_know2vec_spec(_fake_model(lambda X: np.zeros(len(X))), digits()[0][:30]))
bad("know2vec: max_queries 0", ValueError, "max_queries must be >= 1")(
    lambda t: generate_know2vec_spec(model(), digits()[0][:30], max_queries=0))
bad("know2vec: tol negative", ValueError, "tol")(lambda t: generate_know2vec_spec(model(), digits()[0][:30], tol=-1.0))
bad("know2vec: classes the model never answers", ValueError, "labels no probe row with any of its classes [5, 6]")(
    lambda t: generate_know2vec_spec(model(), digits()[0][:30], classes=[5, 6]))
bad("know2vec: seed beyond 2**32", ValueError, "seed must be <= 4294967295")(
    lambda t: generate_know2vec_spec(model(), digits()[0][:30], seed=2**40))
bad("know2vec: seed a float", TypeError, "seed must be an integer")(
    lambda t: generate_know2vec_spec(model(), digits()[0][:30], seed=0.5))
bad("know2vec: classes mixing bool and int", ValueError, "classes mix JSON types")(
    lambda t: generate_know2vec_spec(model(), digits()[0][:30], classes=np.array([True, 2], dtype=object)))
bad("know2vec: more classes than a file holds", ValueError, "at most 1000 classes")(
    lambda t: generate_know2vec_spec(model(), digits()[0][:30], classes=list(range(1001))))
bad("know2vec: a grid over a file's node values", ValueError, "50000000 node values")(
    lambda t: generate_know2vec_spec(_fake_model(lambda X: np.arange(len(X)) % 2), np.zeros((2, 20_000), np.float32),
                                     classes=list(range(60))))
bad("know2vec: save over a file's size", ValueError, "more than the 67108864 a specification file may have")(
    lambda t: _with_settings(know2vec(), note="x" * (64 * 2**20)).save(t / "k2v.json"))
bad("Know2Vec file: missing", SpecificationFileNotFound, "not found")(lambda t: load_k2v(t / "absent.json"))
bad("Know2Vec file: grid too large", FormatError, "values a Know2Vec file may hold")(
    lambda t: load_k2v(k2v_file(t, _set(["input_shape"], [1000, 1000, 10]))))
bad("Know2Vec file: duplicate classes", FormatError, "classes must be distinct")(
    lambda t: load_k2v(k2v_file(t, lambda d: d["classes"].__setitem__(1, d["classes"][0]))))
bad("Know2Vec file: node too short", FormatError, "input_shape needs 64")(
    lambda t: load_k2v(k2v_file(t, lambda d: d["nodes"][0].__setitem__(0, [0.0]))))
bad("Know2Vec file: node beyond float32", FormatError, "beyond the float32 range")(
    lambda t: load_k2v(k2v_file(t, lambda d: d["nodes"][0].__setitem__(0, [1e300] * 64))))
bad("Know2Vec file: no centroid node", FormatError, "no class has a centroid node")(
    lambda t: load_k2v(k2v_file(t, lambda d: d.update(nodes=[[None] * 3] * 3, present=[False] * 3))))
bad("Know2Vec file: grid not square", FormatError, "must be a 3 x 3 grid")(
    lambda t: load_k2v(k2v_file(t, lambda d: d["nodes"].pop())))
bad("Know2Vec file: negative queries", FormatError, "at queries")(
    lambda t: load_k2v(k2v_file(t, _set(["queries"], -5))))
bad("Know2Vec file: probe answers one short", FormatError, "one class index below 3 (or -1) per probe row (60)")(
    lambda t: load_k2v(k2v_file(t, lambda d: d["probe_predictions"].pop())))
bad("Know2Vec file: probe answer beyond the classes", FormatError, "one class index below 3")(
    lambda t: load_k2v(k2v_file(t, lambda d: d["probe_predictions"].__setitem__(0, 3))))
bad("Know2Vec file: probe answer a string", FormatError, "probe_predictions")(
    lambda t: load_k2v(k2v_file(t, lambda d: d["probe_predictions"].__setitem__(0, "1"))))
bad("Know2Vec file: probe fingerprint not hex", FormatError, "probe_sha256")(
    lambda t: load_k2v(k2v_file(t, lambda d: d["settings"].__setitem__("probe_sha256", "x" * 64))))
bad("Know2Vec file: probe answers without the probe's fingerprint", FormatError, "without settings.probe_sha256")(
    lambda t: load_k2v(k2v_file(t, lambda d: d["settings"].pop("probe_sha256"))))
bad("know2vec: probe answers for no probe set", TypeError, "probe_X must be an array")(
    lambda t: know2vec().probe_labels(None))
bad("know2vec: probe answers for another probe set", ValueError, "answer another probe set")(
    lambda t: know2vec().probe_labels(digits()[0][60:120]))


def _proxy_on_spec_answers(probe_X):
    from k2v_learnware.retrieval.proxy import Know2VecProxy

    return Know2VecProxy(epochs=1, verbose=False).fit([know2vec()] * 2, [know2vec()] * 2, probe_X=probe_X)


bad("know2vec proxy: a spec as task source for another probe set", ValueError, "give the model instead")(
    lambda t: _proxy_on_spec_answers(digits()[0][60:120]))


# ------------------------------------------------------------------ Know2Vec proxy and queries
def _proxy_folder(t, meta_mutate=None, weights: bytes | None = None) -> Path:
    from k2v_learnware.retrieval.proxy import Know2VecProxy

    proxy = Know2VecProxy(epochs=1, batch_size=2, verbose=False).fit([know2vec(), know2vec()], [model(), model()],
                                                                    probe_X=digits()[0][:60])
    proxy.save(t / "proxy")
    meta = json.loads((t / "proxy" / "proxy.json").read_text())
    if meta_mutate is not None:
        meta_mutate(meta)
        (t / "proxy" / "proxy.json").write_text(json.dumps(meta))
    if weights is not None:  # in place of the weights the settings name
        (t / "proxy" / _weights_file(t / "proxy")).unlink()
        (t / "proxy" / f"proxy-{meta['weights_sha256']}.pt").write_bytes(weights)
    return t / "proxy"


def _weights_file(folder: Path) -> str:
    """The name of the weights file a saved proxy folder holds (proxy-<sha256>.pt)."""
    (name,) = [p.name for p in folder.iterdir() if p.name != "proxy.json"]
    return name


def _load_proxy(path):
    from k2v_learnware.retrieval.proxy import Know2VecProxy

    return Know2VecProxy.load(path)


def _proxy(**options):
    from k2v_learnware.retrieval.proxy import Know2VecProxy

    return Know2VecProxy(**options)


bad("proxy: hidden 0", ValueError, "hidden must be >= 1")(lambda t: _proxy(hidden=0))
bad("proxy: hidden above a file's maximum", ValueError, "hidden must be <= 4096")(lambda t: _proxy(hidden=4097))
bad("proxy: embedding_dim above a file's maximum", ValueError, "embedding_dim must be <= 4096")(
    lambda t: _proxy(embedding_dim=4097))
bad("proxy: epochs above a file's maximum", ValueError, "epochs must be <= 1000000")(
    lambda t: _proxy(epochs=10**7))
bad("proxy: lr negative", ValueError, "lr must be a finite number > 0")(lambda t: _proxy(lr=-1.0))
bad("proxy: epochs a string", TypeError, "epochs must be an integer")(lambda t: _proxy(epochs="many"))
bad("proxy: seed beyond 2**32", ValueError, "seed must be <=")(lambda t: _proxy(seed=2**40))
bad("proxy: margin NaN", ValueError, "margin must be a finite number in")(lambda t: _proxy(margin=float("nan")))
bad("proxy: margin a string", TypeError, "margin must be a number")(lambda t: _proxy(margin="0.4"))
bad("proxy: alpha negative", ValueError, "alpha must be a finite number in")(lambda t: _proxy(alpha=-1.0))
bad("proxy: samples_per_class reversed", ValueError, "low <= high")(lambda t: _proxy(samples_per_class=(30, 5)))
bad("proxy: samples_per_class one number", ValueError, "pair of counts")(lambda t: _proxy(samples_per_class=5))
bad("proxy file: weights not a state dict", FormatError, "is not the state dict of this proxy")(
    lambda t: _load_proxy(_proxy_folder(t, _set(["weights_sha256"], hashlib.sha256(b"not torch").hexdigest()),
                                        weights=b"not torch")))
bad("proxy file: weights of another save", FormatError, "is not the weights")(
    lambda t: _load_proxy(_proxy_folder(t, weights=b"not torch")))
bad("proxy file: weights hash not hex", FormatError, "at weights_sha256")(
    lambda t: _load_proxy(_proxy_folder(t, _set(["weights_sha256"], "x" * 64))))
bad("proxy file: weights missing", SpecificationFileNotFound, "proxy weights not found")(
    lambda t: _load_proxy((_proxy_folder(t) / _weights_file(t / "proxy")).unlink() or t / "proxy"))
bad("proxy file: shift of the wrong length", FormatError, "shift must be")(
    lambda t: _load_proxy(_proxy_folder(t, lambda m: m["shift"].pop())))
bad("proxy file: scale 0", FormatError, "at scale/0")(
    lambda t: _load_proxy(_proxy_folder(t, lambda m: m["scale"].__setitem__(0, 0.0))))
bad("proxy file: scale negative", FormatError, "at scale/0")(
    lambda t: _load_proxy(_proxy_folder(t, lambda m: m["scale"].__setitem__(0, -1.0))))
bad("proxy file: scale 0 in float32", FormatError, "scale must be > 0")(
    lambda t: _load_proxy(_proxy_folder(t, lambda m: m["scale"].__setitem__(0, 1e-50))))
bad("proxy file: margin beyond a cosine", FormatError, "margin must be a finite number in")(
    lambda t: _load_proxy(_proxy_folder(t, _set(["margin"], 2.0))))
bad("proxy file: hidden huge", FormatError, "at hidden")(
    lambda t: _load_proxy(_proxy_folder(t, _set(["hidden"], 10**6))))


def _query(X, y):
    from k2v_learnware.retrieval.tasks import Know2VecQuery

    return Know2VecQuery.from_data(X, y)


bad("query: labels of another length", ValueError, "labels but X has")(lambda t: _query(digits()[0], [0, 1]))
bad("query: X with NaN", ValueError, "NaN or infinite")(lambda t: _query(np.full((4, 64), np.nan), [0, 0, 1, 1]))


def _query_doc(means):
    from k2v_learnware.retrieval.tasks import Know2VecQuery

    return Know2VecQuery.from_dict({"type": "Know2VecQuery", "classes": [0, 1], "means": means})


def _query_by_hand(classes, means):
    from k2v_learnware.retrieval.tasks import Know2VecQuery

    return Know2VecQuery(classes, means)


def _without_nodes(spec):
    """A copy of ``spec`` whose graph lost every node (built by hand: a file like it is refused)."""
    spec = copy.deepcopy(spec)
    spec.nodes[:] = np.nan
    return spec


@functools.cache
def fitted_proxy():
    return _proxy(epochs=1, batch_size=2, verbose=False).fit([know2vec(), know2vec()], [model(), model()],
                                                             probe_X=digits()[0][:60])


bad("query document: a mean beyond float32", ValueError, "beyond the range of float32")(
    lambda t: _query_doc([[1e300] + [0.0] * 63, [0.0] * 64]))
bad("query by hand: NaN means", ValueError, "NaN or infinite")(
    lambda t: _query_by_hand([0, 1], np.full((2, 64), np.nan)))
bad("query by hand: one mean row for two classes", ValueError, "one finite mean row per class")(
    lambda t: _query_by_hand([0, 1], np.zeros((1, 64))))
bad("query by hand: classes not a sequence", TypeError, "must be a sequence of labels")(
    lambda t: _query_by_hand(3, np.zeros((2, 64))))
bad("proxy: a graph reaching no class", ValueError, "boundary graph 0 has no centroid node")(
    lambda t: fitted_proxy().embed_models([_without_nodes(know2vec())]))
bad("proxy scores: a NaN query array", ValueError, "NaN or infinite")(
    lambda t: fitted_proxy().scores(np.full((2, 64), np.nan), [know2vec()]))
bad("proxy scores: a 1-D query array", ValueError, "query means must have shape 2-D")(
    lambda t: fitted_proxy().embed_query(np.zeros(64)))
bad("proxy scores: a query array with no class", ValueError, "query means is empty")(
    lambda t: fitted_proxy().embed_query(np.zeros((0, 64))))
bad("proxy scores: query means beyond the proxy's scaling", ValueError, "beyond the range the proxy's scaling")(
    lambda t: fitted_proxy().embed_query(np.full((2, 64), 3e38, np.float32)))


# ------------------------------------------------------------------ search: weights, residuals, index, QP
def _weights(user, specs, **options):
    from k2v_learnware.search import mixture_weights

    return mixture_weights(user, specs, **options)


def _residuals(user, specs, **options):
    from k2v_learnware.search import single_residuals

    return single_residuals(user, specs, **options)


bad("mixture_weights: no specs", ValueError, "learnware_specs is empty")(lambda t: _weights(digits()[0], []))
bad("mixture_weights: a non-LANE spec", TypeError, "learnware_specs[0] is a Know2VecSpecification")(
    lambda t: _weights(digits()[0], [know2vec()]))
bad("mixture_weights: user of another size", ValueError, "feature dimensions differ")(
    lambda t: _weights(digits()[0][:, :32], [lane()]))
bad("mixture_weights: user with NaN", ValueError, "NaN or infinite")(
    lambda t: _weights(np.full((5, 64), np.nan), [lane()]))
bad("mixture_weights: unknown solver", ValueError, "solver")(lambda t: _weights(digits()[0], [lane()], solver="magic"))
bad("mixture_weights: top_k 0", ValueError, "top_k")(lambda t: _weights(digits()[0], [lane()], top_k=0))
bad("mixture_weights: family not a RandomEmbedding", TypeError, "family must be a RandomEmbedding")(
    lambda t: _weights(digits()[0], [lane()], family="mlp"))
bad("mixture_weights: family of another size", ValueError, "the feature dimensions differ")(
    lambda t: _weights(digits()[0], [lane()], family=gen(X=digits()[0][:, :32]).embedding_family()))
bad("mixture_weights: user overflowing the networks", ValueError, "overflow the random networks")(
    lambda t: _weights(np.full((3, 64), -3e38, np.float32), [lane()]))
bad("embed_requirement_and_classes: no specs", ValueError, "learnware_specs is empty")(
    lambda t: __import__("k2v_learnware.search", fromlist=["x"]).embed_requirement_and_classes(digits()[0], []))
bad("embed_requirement_and_classes: a string spec", TypeError, "learnware_specs[0] is a str")(
    lambda t: __import__("k2v_learnware.search", fromlist=["x"]).embed_requirement_and_classes(digits()[0], ["a"]))
bad("single_residuals: user a string", TypeError, "must hold numbers")(lambda t: _residuals("rows", [lane()]))


def _index(blocks):
    from k2v_learnware.search.class_mean_index import ClassMeanIndex

    return ClassMeanIndex.from_blocks(blocks)


bad("index: no blocks", ValueError, "at least one learnware")(lambda t: _index([]))
bad("index: blocks of two widths", ValueError, "expected (K, 4)")(
    lambda t: _index([np.zeros((2, 4)), np.zeros((2, 5))]))
bad("index: max_rounds 0", ValueError, "max_rounds must be at least 1")(
    lambda t: _index([np.eye(4)]).mixture(np.ones(4), max_rounds=0))


# ------------------------------------------------------------------ reuse
def _reuser(learnwares, weights=None, **options):
    from k2v_learnware.reuse import LANEJobSelectorReuser

    return LANEJobSelectorReuser(learnwares, weights, **options)


@functools.cache
def learnware():
    from learnware.learnware import Learnware
    from learnware.specification import Specification

    return Learnware("lw", model(), Specification(stat_spec={"LANESpecification": lane()}), "")


bad("reuser: no learnwares", ValueError, "learnware_list is empty")(lambda t: _reuser([]))
bad("reuser: weights of the wrong length", ValueError, "one weight per learnware")(
    lambda t: _reuser([learnware()], [0.5, 0.5]))
bad("reuser: negative weights", ValueError, "non-negative")(lambda t: _reuser([learnware(), learnware()], [1.0, -1.0]))
bad("reuser: NaN weights", ValueError, "finite")(lambda t: _reuser([learnware(), learnware()], [np.nan, 1.0]))
bad("reuser: weights as strings", TypeError, "weights must hold numbers")(
    lambda t: _reuser([learnware(), learnware()], ["0.5", "0.5"]))
bad("reuser: num_mimic 0", ValueError, "num_mimic must be >= 1")(lambda t: _reuser([learnware()], num_mimic=0))
bad("reuser: a spec in place of a learnware", TypeError, "learnware_list[0] is a LANESpecification, not a learnware")(
    lambda t: _reuser([lane()]))
bad("reuser: random_state negative", ValueError, "random_state must be >= 0")(
    lambda t: _reuser([learnware()], random_state=-1))
bad("reuser: fit on rows of another size", ValueError, "user_data rows have 32 features; the learnwares take 64")(
    lambda t: _reuser([learnware(), learnware()], [0.5, 0.5]).fit(np.zeros((5, 32))))
bad("label_shift_weights: a string spec", TypeError, "specs[0] is a str, not a LANESpecification")(
    lambda t: __import__("k2v_learnware.reuse", fromlist=["x"]).label_shift_weights(digits()[0], ["lane.json"]))
bad("label_shift_weights: specs of two sizes", ValueError, "the feature dimensions differ")(
    lambda t: __import__("k2v_learnware.reuse", fromlist=["x"]).label_shift_weights(
        digits()[0], [lane(), gen(X=digits()[0][:, :32])]))
bad("label_shift_weights: random_state a string", TypeError, "random_state must be an integer")(
    lambda t: __import__("k2v_learnware.reuse", fromlist=["x"]).label_shift_weights(digits()[0], [lane()],
                                                                                   random_state="0"))
bad("reuser: rows of another size", ValueError, "the learnwares take 64")(
    lambda t: _reuser([learnware()]).predict(np.zeros((5, 32))))
bad("reuser: rows with NaN", ValueError, "NaN or infinite")(
    lambda t: _reuser([learnware()]).predict(np.full((5, 64), np.nan)))


# ------------------------------------------------------------------ packing
bad("pack: model without predict", TypeError, "model must have a predict method")(
    lambda t: pack_learnware(object(), lane(), t / "x.zip"))
bad("pack: no specs", ValueError, "specs is empty")(lambda t: pack_learnware(model(), [], t / "x.zip"))
bad("pack: no LANE spec", ValueError, "must include a LANESpecification")(
    lambda t: pack_learnware(model(), [know2vec()], t / "x.zip"))
bad("pack: two specs of one type", ValueError, "distinct types")(
    lambda t: pack_learnware(model(), [lane(), lane()], t / "x.zip"))
bad("pack: existing file", ValueError, "pass overwrite=True")(
    lambda t: (t.joinpath("x.zip").write_bytes(b"keep"), pack_learnware(model(), lane(), t / "x.zip")))
bad("pack: a directory", ValueError, "is a directory")(lambda t: pack_learnware(model(), lane(), t))


# ------------------------------------------------------------------ the market and learnware zips
bad("market: not a zip", MarketRefusal, "is not a zip file")(
    lambda t: submit(t.joinpath("x.zip").write_bytes(b"plain text") and t / "x.zip"))
bad("market: zip bomb", MarketRefusal, "expands")(lambda t: submit(rezip(t, add={"padding.bin": b"\0" * 50 * 2**20})))
bad("market: too many files", MarketRefusal, "files; a learnware may have at most 1000")(
    lambda t: submit(rezip(t, add={f"f{i}.txt": b"x" for i in range(1000)})))
bad("market: no learnware.yaml", MarketRefusal, "no learnware.yaml")(
    lambda t: submit(rezip(t, drop={"learnware.yaml"})))
bad("market: learnware.yaml not YAML", MarketRefusal, "not valid YAML")(
    lambda t: submit(rezip(t, replace={"learnware.yaml": b"model: [unclosed"})))
bad("market: learnware.yaml building an object", MarketRefusal, "could not determine a constructor")(
    lambda t: submit(rezip(t, replace={"learnware.yaml": b"model: !!python/object/apply:os.system ['true']\n"})))
bad("market: specification from any module", MarketRefusal, "does not accept")(
    lambda t: submit(rezip(t, replace={"learnware.yaml": yaml_with(module_path="subprocess", class_name="run")})))
bad("market: specification from a file in the zip", MarketRefusal, "does not accept")(
    lambda t: submit(rezip(t, replace={"learnware.yaml": yaml_with(module_path="evil.py", class_name="Spec")})))
bad("market: specification kwargs", MarketRefusal, "must have no kwargs")(
    lambda t: submit(rezip(t, replace={"learnware.yaml": yaml_with(kwargs={"num_nets": 1000})})))
bad("market: specification file outside", MarketRefusal, "must be a path inside the learnware")(
    lambda t: submit(rezip(t, replace={"learnware.yaml": yaml_with(file_name="../../etc/passwd")})))
bad("market: spec file with NaN", MarketRefusal, "NaN is not a number")(
    lambda t: submit(rezip(t, replace={"lane_spec.json": json.dumps(lane().to_dict()).replace("[[", "[[NaN, ", 1)})))
bad("market: spec file asking for 10**6 networks", MarketRefusal, "embedding/num_nets")(
    lambda t: submit(rezip(t, replace={"lane_spec.json": json.dumps(
        {**lane().to_dict(), "embedding": {**lane().to_dict()["embedding"], "num_nets": 10**6}})})))


def _market(**options):
    from k2v_learnware.market import instantiate_market

    return instantiate_market(**{"root": folder() / "m", **options})


bad("instantiate_market: id with a slash", ValueError, "market_id must be")(lambda t: _market(market_id="a/b"))
bad("instantiate_market: id not a str", TypeError, "market_id must be a str")(lambda t: _market(market_id=7))
bad("instantiate_market: bad database URL", ValueError, "database")(
    lambda t: _market(market_id="x", database_url="mysql://nowhere/db"))
bad("K2VOrganizer: market_id escaping the root", ValueError, "market_id must be")(
    lambda t: __import__("k2v_learnware.market", fromlist=["x"]).K2VOrganizer(market_id="../escaped", root=t / "r"))
bad("K2VOrganizer: market_id None", TypeError, "market_id must be a str")(
    lambda t: __import__("k2v_learnware.market", fromlist=["x"]).K2VOrganizer(market_id=None, root=t / "r"))
bad("MarketStore: market_id with a quote", ValueError, "market_id must be")(
    lambda t: __import__("k2v_learnware.market.store", fromlist=["x"]).MarketStore(
        __import__("k2v_learnware.market.database", fromlist=["x"]).open_engine(f"sqlite:///{t / 'm.db'}"), "a'b"))
bad("instantiate_market: SQLite file in a missing folder", ValueError, "in a folder that does not exist")(
    lambda t: _market(market_id="x", database_url=f"sqlite:///{t / 'absent' / 'm.db'}"))
bad("instantiate_market: SQLite URL naming a directory", ValueError, "is a directory")(
    lambda t: _market(market_id="x", database_url=f"sqlite:///{t}"))
bad("list_market: a market that is not there", ValueError, "market 'typo' does not exist")(
    lambda t: __import__("k2v_learnware.market.listing", fromlist=["x"]).list_market("typo", t))
def _organizer():
    return market().learnware_organizer


bad("organizer add: check_status 7", ValueError, "check_status must be None, BaseChecker.NONUSABLE_LEARNWARE")(
    lambda t: _organizer().add_learnware(str(good_zip()), {}, check_status=7))
bad("organizer add: check_status 2.9", ValueError, "check_status must be None")(
    lambda t: _organizer().add_learnware(str(good_zip()), {}, check_status=2.9))
bad("organizer add: check_status True", ValueError, "got True")(
    lambda t: _organizer().add_learnware(str(good_zip()), {}, check_status=True))
bad("organizer update: check_status 'abc'", ValueError, "got 'abc'")(
    lambda t: _organizer().update_learnware("00000001", check_status="abc"))
bad("organizer update: an int id", TypeError, "learnware id must be a str")(
    lambda t: _organizer().update_learnware(1, check_status=1))
bad("organizer delete: an int id", TypeError, "learnware id must be a str")(lambda t: _organizer().delete_learnware(1))
bad("organizer add: owner of 321 characters", ValueError, "owner must be at most 320 characters, got 321")(
    lambda t: _organizer().add_learnware(str(good_zip()), {}, check_status=1, owner="x" * 321))
bad("organizer add: owner not a str", TypeError, "owner must be a str or None")(
    lambda t: _organizer().add_learnware(str(good_zip()), {}, check_status=1, owner=123))
bad("instantiate_market: an empty probe set file", FormatError, "probe.npy is not a probe set: EOFError")(
    lambda t: (t.joinpath("m/p/know2vec").mkdir(parents=True), t.joinpath("m/p/know2vec/probe.npy").write_bytes(b""),
               _market(market_id="p", root=t / "m")))
bad("instantiate_market: rebuild as a string", TypeError, "rebuild must be True or False")(
    lambda t: _market(market_id="x", rebuild="False"))
bad("instantiate_market: strict as a number", TypeError, "strict must be True or False")(
    lambda t: _market(market_id="x", strict=0))
bad("instantiate_market: know2vec_options not a dict", TypeError, "know2vec_options must be a dict")(
    lambda t: _market(market_id="x", know2vec_options=[("seed", 1)]))
bad("instantiate_market: unknown Know2Vec option", ValueError, "unknown option(s) ['bogus']")(
    lambda t: _market(market_id="x", know2vec_options={"bogus": 1}))
bad("instantiate_market: Know2Vec max_queries 0", ValueError, "know2vec_options['max_queries'] must be >= 1")(
    lambda t: _market(market_id="x", know2vec_options={"max_queries": 0}))


# ------------------------------------------------------------------ command line
@functools.cache
def cli_files() -> Path:
    work = folder() / "cli"
    work.mkdir(exist_ok=True)
    X, y = digits()
    np.savez(work / "data.npz", X=X, y=y)
    np.savez(work / "nan.npz", X=np.full((5, 64), np.nan), y=np.zeros(5))
    np.savez(work / "complex.npz", X=X[:40] + 1j, y=y[:40])  # the cast to float32 dropped the imaginary part
    np.savez(work / "huge.npz", X=np.full((5, 64), 1e300), y=np.zeros(5))
    np.savez(work / "objects.npz", X=np.array([{"a": 1}] * 5, dtype=object), y=np.zeros(5))
    lane().save(work / "a.json")
    (work / "nan.json").write_text(json.dumps(lane().to_dict()).replace("[[", "[[NaN, ", 1))
    doc = lane().to_dict()
    (work / "short-labels.json").write_text(json.dumps({**doc, "labels": doc["labels"][:-1]}))
    doc = know2vec().to_dict()
    (work / "k2v-grid.json").write_text(json.dumps({**doc, "nodes": doc["nodes"][:-1]}))
    return work


def _cli(*argv):
    return cli(*argv, cwd=cli_files())


bad("cli: no command", CLIRefusal, "a command is required")(lambda t: _cli())
bad("cli: unknown command", CLIRefusal, "invalid choice")(lambda t: _cli("frobnicate"))
bad("cli: --per-class abc", CLIRefusal, "--per-class")(lambda t: _cli("generate", "data.npz", "-o", "o.json",
                                                                     "--per-class", "abc"))
bad("cli: generate from a missing file", CLIRefusal, "not found")(
    lambda t: _cli("generate", "absent.npz", "-o", "o.json"))
bad("cli: generate from NaN data", CLIRefusal, "NaN or infinite")(lambda t: _cli("generate", "nan.npz", "-o", "o.json"))
bad("cli: generate from complex data", CLIRefusal, "complex.npz: the data array must hold real numbers")(
    lambda t: _cli("-q", "generate", "complex.npz", "-o", "o.json", "--iterations", "1", "--per-class", "2"))
bad("cli: generate from data beyond float32", CLIRefusal, "huge.npz holds values beyond the range of float32")(
    lambda t: _cli("generate", "huge.npz", "-o", "o.json"))
bad("cli: generate from an .npz of objects", CLIRefusal, "cannot read objects.npz: Object arrays")(
    lambda t: _cli("generate", "objects.npz", "-o", "o.json"))
bad("cli: generate into a directory", CLIRefusal, "is a directory")(
    lambda t: _cli("-q", "generate", "data.npz", "-o", str(cli_files()), "--iterations", "1", "--per-class", "2"))
bad("cli: generate into an unwritable place", CLIRefusal, "cannot be written")(
    lambda t: _cli("-q", "generate", "data.npz", "-o", "/proc/k2v/o.json", "--iterations", "1", "--per-class", "2"))
bad("cli: inspect a NaN spec", CLIRefusal, "NaN is not a number")(lambda t: _cli("inspect", "nan.json"))
bad("cli: inspect an inconsistent LANE file", CLIRefusal, "labels for")(lambda t: _cli("inspect", "short-labels.json"))
bad("cli: inspect a Know2Vec file with a cut grid", CLIRefusal, "must be a 3 x 3 grid")(
    lambda t: _cli("inspect", "k2v-grid.json"))
bad("cli: compare with a NaN spec", CLIRefusal, "NaN is not a number")(lambda t: _cli("--json", "compare", "a.json",
                                                                                     "nan.json"))
bad("cli: pack to an existing zip", CLIRefusal, "pass --overwrite")(
    lambda t: (cli_files().joinpath("exists.zip").write_bytes(b"x"),
               _cli("pack", "a.json", "--train", "svm", "data.npz", "-o", "exists.zip")))
bad("cli: pack a pickled model without trust", CLIRefusal, "--trust-model")(
    lambda t: (cli_files().joinpath("m.pkl").write_bytes(b"x"),
               _cli("pack", "a.json", "--model", "m.pkl", "-o", "new.zip")))
bad("cli: list a market that is not there", CLIRefusal, "no market 'absent'")(
    lambda t: _cli("list", "--market", "absent", "--root", str(t)))
bad("cli: list with a bad market name", CLIRefusal, "market_id must be")(
    lambda t: _cli("list", "--market", "../up", "--root", str(t)))
bad("cli: token for a --root that is a file", CLIRefusal, "data.npz is not a folder")(
    lambda t: _cli("token", "add", "a@example.org", "--market", "x", "--root", str(cli_files() / "data.npz")))
bad("cli: list with an empty --root", CLIRefusal, "--root is empty")(
    lambda t: _cli("list", "--market", "x", "--root", ""))
bad("cli: compare with --proxy a file", CLIRefusal, "data.npz is not a folder")(
    lambda t: _cli("compare", "a.json", "a.json", "--proxy", str(cli_files() / "data.npz")))
bad("cli: search with a bad database URL", CLIRefusal, "database")(
    lambda t: _cli("search", "data.npz", "--market", "x", "--root", str(t), "--database-url", "mysql://h/db"))
bad("cli: search an empty --server", CLIRefusal, "--server : give the market service's URL")(
    lambda t: _cli("search", "data.npz", "--server", "", "--root", str(t)))
bad("cli: search a --server whose host has a space", CLIRefusal, "give the market service's URL")(
    lambda t: _cli("-q", "search", "data.npz", "--server", "http://exa mple.org", "--iterations", "1"))
bad("cli: reuse without -o", CLIRefusal, "-o/--output")(lambda t: _cli("reuse", "data.npz"))
bad("cli: serve on port 0", CLIRefusal, "--port")(lambda t: _cli("serve", "--port", "0"))


def _into_a_fifo(t, name, *argv):
    """The command with ``-o`` a FIFO (never a real device): refused, and the FIFO is still a FIFO."""
    import os
    import stat

    fifo = t / name
    os.mkfifo(fifo)
    try:
        _cli(*argv, "-o", str(fifo))
    finally:
        assert stat.S_ISFIFO(os.stat(fifo).st_mode), f"{fifo} was replaced"


bad("cli: generate into a FIFO", CLIRefusal, "is a FIFO")(
    lambda t: _into_a_fifo(t, "spec.json", "-q", "generate", "data.npz", "--iterations", "1", "--per-class", "2"))
bad("cli: pack into a FIFO", CLIRefusal, "is a FIFO")(
    lambda t: _into_a_fifo(t, "lw.zip", "-q", "pack", "a.json", "--train", "svm", "data.npz", "--overwrite"))
bad("cli: reuse into a FIFO", CLIRefusal, "is a FIFO")(
    lambda t: _into_a_fifo(t, "pred.npy", "-q", "reuse", "data.npz", "--root", str(t)))


def _rkme_files(t, **change):
    """A small valid stock RKME table file and one with ``change`` (values, or raw JSON text for "text")."""
    doc = {"type": "RKMETableSpecification", "z": [[0.5] * 4, [1.0] * 4], "beta": [0.5, 0.5], "gamma": 0.1,
           "num_points": 2}
    (t / "rk.json").write_text(json.dumps(doc))
    text = change.pop("text", None)
    (t / "bad.json").write_text(text if text is not None else json.dumps({**doc, **change}))
    return str(t / "rk.json"), str(t / "bad.json")


bad("cli: inspect an RKME file of NaN points", CLIRefusal, "bad.json: NaN is not a number")(
    lambda t: _cli("inspect", _rkme_files(t, text=json.dumps({"type": "RKMETableSpecification", "z": [[1.0]],
                                                                "beta": [1.0]}).replace("1.0]]", "NaN]]"))[1]))
bad("cli: compare with an RKME file of NaN points", CLIRefusal, "bad.json: NaN is not a number")(
    lambda t: _cli("compare", *_rkme_files(t, text=json.dumps({"type": "RKMETableSpecification", "z": [[1.0]],
                                                                 "beta": [1.0]}).replace("1.0]]", "NaN]]"))))
bad("cli: inspect an RKME file whose z is an object", CLIRefusal, "bad.json: RKMETableSpecification field 'z'")(
    lambda t: _cli("inspect", _rkme_files(t, z={"a": 1})[1]))
bad("cli: compare with an RKME file of a bad gamma", CLIRefusal, "bad.json: RKMETableSpecification gamma")(
    lambda t: _cli("compare", *_rkme_files(t, gamma="x")))
bad("cli: compare with an RKME file of more weights than points", CLIRefusal, "2 points but 3 weights")(
    lambda t: _cli("compare", *_rkme_files(t, beta=[0.2, 0.3, 0.5])))
bad("cli: inspect a file nested too deeply", CLIRefusal, "bad.json nests its JSON too deeply")(
    lambda t: _cli("inspect", _rkme_files(t, text="[" * 100000 + "]" * 100000)[1]))
bad("cli: serve on port 70000", CLIRefusal, "must be <= 65535")(lambda t: _cli("serve", "--port", "70000"))
# --root is a file so that, were --workers not bounded, the command would be refused there instead of serving
bad("cli: serve with 100000 workers", CLIRefusal, "--workers: must be <= 64, got 100000")(
    lambda t: _cli("serve", "--workers", "100000", "--root", str(cli_files() / "data.npz")))
bad("cli: serve on a host that does not resolve", CLIRefusal, "does not resolve")(
    lambda t: _cli("serve", "--root", str(t), "--host", "999.1.1.1", "--port", "8000"))


def _serve_on_a_taken_port(t):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        _cli("serve", "--root", str(t), "--port", str(taken.getsockname()[1]))


bad("cli: serve on a port in use", CLIRefusal, "Address already in use")(_serve_on_a_taken_port)


# ------------------------------------------------------------------ researchers' tools
def _compare(a, b, **options):
    from k2v_learnware.compare import compare_specifications

    return compare_specifications(a, b, **options)


bad("compare: a LANE and a string", TypeError, "str")(lambda t: _compare(lane(), "spec.json"))
bad("compare: two Know2Vec specs without a proxy", ValueError, "proxy")(lambda t: _compare(know2vec(), know2vec()))
bad("compare_many: one spec", ValueError, "at least 2")(
    lambda t: __import__("k2v_learnware.compare", fromlist=["compare_many"]).compare_many([lane()]))


def _transfer(name, *args):
    from k2v_learnware.retrieval import transferability

    return getattr(transferability, name)(*args)


bad("leep: probabilities with NaN", ValueError, "must be finite")(
    lambda t: _transfer("leep", np.full((4, 2), np.nan), [0, 1, 0, 1]))
bad("leep: labels of another length", ValueError, "labels")(lambda t: _transfer("leep", np.full((4, 2), 0.5), [0, 1]))
bad("nce: one class", ValueError, "class")(lambda t: _transfer("nce", [0, 1, 0, 1], [0, 0, 0, 0]))
bad("logme: features 1-D", ValueError, "must have shape")(lambda t: _transfer("logme", np.zeros(4), [0, 1, 0, 1]))
bad("h_score: features with inf", ValueError, "NaN or infinite")(
    lambda t: _transfer("h_score", np.full((4, 3), np.inf), [0, 1, 0, 1]))
bad("leep: complex probabilities", TypeError, "source_probs must hold real numbers")(
    lambda t: _transfer("leep", np.full((4, 2), 0.5 + 1j), [0, 1, 0, 1]))
bad("logme: features overflowing its Gram matrix", ValueError, "overflow LogME's float64 Gram matrix")(
    lambda t: _transfer("logme", np.arange(12.0).reshape(4, 3) * 1e160, [0, 1, 0, 1]))
bad("silhouette: complex features", TypeError, "features must hold real numbers")(
    lambda t: _transfer("neuralrank_silhouette", np.ones((4, 2)) + 1j, [0, 1, 0, 1]))
bad("silhouette: n_components 0", ValueError, "n_components must be >= 1")(
    lambda t: _transfer("neuralrank_silhouette", np.eye(4), [0, 1, 0, 1], 0))
bad("silhouette: n_components a share over 1", ValueError, "n_components must be a finite number in [0, 1]")(
    lambda t: _transfer("neuralrank_silhouette", np.eye(4), [0, 1, 0, 1], 1.5))
bad("silhouette: random_state negative", ValueError, "random_state must be >= 0")(
    lambda t: _transfer("neuralrank_silhouette", np.eye(4), [0, 1, 0, 1], 0.9, -1))
bad("silhouette: unknown metric", ValueError, "metric must be one of")(
    lambda t: _transfer("neuralrank_silhouette", np.eye(4), [0, 1, 0, 1], 10, 0, "manhattan"))
bad("nleep: random_state a string", TypeError, "random_state must be an integer")(
    lambda t: _transfer("nleep", np.eye(4), [0, 1, 0, 1], 5, 0.8, "x"))


def _fidelity(*args, **options):
    from k2v_learnware.compare import fidelity

    return fidelity(*args, **options)


bad("fidelity: data of another size", ValueError, "features")(lambda t: _fidelity(lane(), digits()[0][:, :10]))
bad("fidelity: not a spec", TypeError, "cannot compare a str")(lambda t: _fidelity("spec", digits()[0]))
bad("fidelity: rows that overflow the random networks", ValueError, "the embedding of X is not finite")(
    lambda t: _fidelity(lane(), np.full((5, 64), -3e38, np.float32)))
bad("fidelity: random_state negative", ValueError, "random_state must be >= 0")(
    lambda t: _fidelity(lane(), digits()[0], random_state=-1))
bad("privacy_gap: random_state a float", TypeError, "random_state must be an integer")(
    lambda t: __import__("k2v_learnware.compare.fidelity", fromlist=["x"]).privacy_gap(
        digits()[0][:5], digits()[0][:20], digits()[0][20:40], random_state=0.5))
bad("compare_many: labels not a sequence", TypeError, "labels must be a sequence")(
    lambda t: __import__("k2v_learnware.compare", fromlist=["compare_many"]).compare_many([lane(), lane()], labels=3))


# ------------------------------------------------------------------ market objects, data sets, plots
def _searcher(**options):
    from k2v_learnware.market import LANEStatSearcher

    return LANEStatSearcher(organizer=None, **options)


def _datasets():
    from k2v_learnware import datasets

    return datasets


def _plots():
    from k2v_learnware import plots

    return plots


bad("user_info: not a specification", TypeError, "must be a statistical specification")(
    lambda t: __import__("k2v_learnware.market", fromlist=["user_info"]).user_info("spec.json"))
bad("searcher: negative weight_threshold", ValueError, "weight_threshold must be a number in [0, 1)")(
    lambda t: _searcher(weight_threshold=-1))
bad("searcher: top_k 0", ValueError, "top_k must be >= 1")(lambda t: _searcher(top_k=0))
bad("searcher: max_rounds 0", ValueError, "max_rounds must be >= 1")(lambda t: _searcher(max_rounds=0))
bad("searcher: unknown solver", ValueError, "solver must be")(lambda t: _searcher(solver="magic"))
def _k2v_learnware():
    from learnware.learnware import Learnware
    from learnware.specification import Specification

    return Learnware("k2v", model(), Specification(stat_spec={"Know2VecSpecification": know2vec()}), "")


def _search(searcher, learnwares, stat_info, max_search_num):
    from learnware.market.base import BaseUserInfo

    return searcher(learnwares, BaseUserInfo(stat_info=stat_info), max_search_num=max_search_num)


bad("searcher: max_search_num -1", ValueError, "max_search_num must be >= 1")(
    lambda t: _search(_searcher(), [learnware(), learnware()], {"LANESpecification": lane()}, -1))
bad("searcher: max_search_num 2.5", TypeError, "max_search_num must be an integer")(
    lambda t: _search(_searcher(), [learnware(), learnware()], {"LANESpecification": lane()}, 2.5))
bad("Know2Vec searcher: max_search_num '3'", TypeError, "max_search_num must be an integer")(
    lambda t: _search(__import__("k2v_learnware.market", fromlist=["x"]).Know2VecSearcher(None),
                      [_k2v_learnware()], {"Know2VecQuery": _query(*digits())}, "3"))
bad("datasets: per_class 0", ValueError, "per_class must be >= 1")(
    lambda t: _datasets().stratified_subset(np.zeros((4, 2)), np.array([0, 0, 1, 1]), 0))
bad("datasets: pooling factor 0", ValueError, "factor must be >= 1")(
    lambda t: _datasets().pool_images(np.zeros((2, 1, 4, 4)), 0))
bad("datasets: pooling NaN images", ValueError, "NaN or infinite")(
    lambda t: _datasets().pool_images(np.full((1, 1, 2, 2), np.nan)))
bad("datasets: pooling complex images", TypeError, "must hold real numbers")(
    lambda t: _datasets().pool_images(np.ones((1, 1, 2, 2)) * 1j))
bad("datasets: subset of X and y of two lengths", ValueError, "the same number of rows")(
    lambda t: _datasets().stratified_subset(np.zeros((4, 2)), np.array([0, 1, 0]), 1))
bad("datasets: subset with a negative seed", ValueError, "seed must be >= 0")(
    lambda t: _datasets().stratified_subset(np.zeros((4, 2)), np.array([0, 1, 0, 1]), 1, -1))
bad("datasets: IDX file missing", FileNotFoundError, "IDX file not found")(
    lambda t: _datasets().read_idx(t / "none-idx1-ubyte.gz"))
bad("datasets: IDX .gz that is not gzip", ValueError, "cannot be read as a gzipped IDX file")(
    lambda t: (t / "a.gz").write_bytes(b"plain") and _datasets().read_idx(t / "a.gz"))
bad("datasets: IDX header of no dimensions", ValueError, "IDX header of 0 dimensions")(
    lambda t: (t / "b").write_bytes(bytes([0, 0, 8, 0])) and _datasets().read_idx(t / "b"))
bad("datasets: IDX file truncated", ValueError, "truncated or damaged")(
    lambda t: (t / "c").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2])) and _datasets().read_idx(t / "c"))
bad("datasets: unknown Fashion-MNIST split", ValueError, "split must be")(
    lambda t: _datasets().load_fashion_mnist("dev"))
bad("plots: heatmap not square", ValueError, "must be square")(
    lambda t: _plots().plot_distance_heatmap(np.zeros((2, 3)), ["a", "b"], t / "h.png"))
bad("plots: heatmap into a directory", ValueError, "is a directory")(
    lambda t: _plots().plot_distance_heatmap(np.zeros((2, 2)), ["a", "b"], t))
bad("plots: no path", TypeError, "path is required")(lambda t: _plots().plot_spec_over_data(lane(), digits()[0]))


# ------------------------------------------------------------------ the catalogue
def test_the_catalogue_is_large_and_its_names_are_distinct():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) and len(CASES) >= 120


def test_the_readme_counts_the_whole_catalogue():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    found = re.search(r"is the catalogue: (\d+) bad inputs", readme)
    assert found, "README.md no longer says how many bad inputs the catalogue holds"
    assert int(found.group(1)) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_fails_clearly(case, tmp_path):
    with pytest.raises(Exception) as info:
        case.run(tmp_path)
    err = info.value
    assert type(err) is case.exc, f"{case.name}: got {type(err).__name__}: {err}"
    assert case.fragment in str(err), f"{case.name}: message {str(err)!r} lacks {case.fragment!r}"
