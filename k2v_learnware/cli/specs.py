"""The specification commands: ``generate`` a LANE specification, ``compare`` two, ``inspect`` one.

Serves the specification stage of the learnware paradigm: a developer
condenses labelled data into a specification that describes it without
sharing it (a user condenses unlabelled rows into a requirement the same
way), and both can check what a file holds or how close two are before
anything reaches a market.
"""

from __future__ import annotations

from pathlib import Path

from .common import CLIError, Outcome, init_learnware, say, writable_output
from .data import data_from_args
from .spec_files import check_rkme_file, check_spec_file, load_spec, peek_type, schema_versions


def cmd_generate(args) -> Outcome:
    """Condense a data file into a LANE specification (labelled: a developer's; unlabelled: a requirement)."""
    writable_output(args.output, "-o")
    data = data_from_args(args)
    y = None if args.unlabelled else data.y
    init_learnware(args.quiet)
    from ..specification.lane import generate_lane_spec

    say(args, f"condensing {len(data.X)} rows of {data.path} "
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


def cmd_compare(args) -> Outcome:
    """Distance and similarity of two specification files, by ``k2v_learnware.compare``."""
    for p in (args.a, args.b):
        check_spec_file(p)  # missing or malformed files fail before anything heavy is imported
    a, b = load_spec(args.a, args.quiet), load_spec(args.b, args.quiet)
    try:
        from ..compare import compare_specifications
    except ImportError as exc:
        raise CLIError(f"this installation has no k2v_learnware.compare: {exc}", code=1) from exc
    if a.type == b.type == "Know2VecSpecification" and not args.proxy:
        raise CLIError("two Know2Vec specifications are compared in a trained proxy's space: "
                       "give its folder with --proxy DIR (e.g. <market>/know2vec/proxy)")
    proxy = None
    if args.proxy:
        from ..retrieval.proxy import Know2VecProxy

        folder = Path(args.proxy)
        if not folder.is_dir():
            raise FileNotFoundError(f"--proxy {folder} is not a folder: give the folder a proxy was saved in"
                                    if folder.exists() else f"proxy folder not found: {folder}")
        proxy = Know2VecProxy.load(folder)
    result = compare_specifications(a, b, proxy=proxy)
    payload = {"a": str(args.a), "b": str(args.b), "type_a": a.type, "type_b": b.type,
               "method": result.method, "distance": float(result.distance), "similarity": float(result.similarity),
               "details": dict(getattr(result, "details", None) or {})}
    text = (f"{args.a} ({a.type}) vs {args.b} ({b.type}): distance {payload['distance']:.6g}, "
            f"similarity {payload['similarity']:.4f} ({result.method})")
    return Outcome(payload, text)


def cmd_inspect(args) -> Outcome:
    """Validate one specification file against its schema and format version, and summarise it.

    Light on purpose: JSON and jsonschema only, no torch or ``learnware``.
    """
    from ..specification.formats import SCHEMA_FILES, SpecificationFormatError, read_json

    spec = Path(args.spec)
    if spec.is_dir() and (spec / "proxy.json").is_file():  # a Know2Vec proxy folder
        spec = spec / "proxy.json"
    path, type_name = peek_type(spec)
    summarisers = {"LANESpecification": _summarise_lane, "Know2VecSpecification": _summarise_know2vec,
                   "Know2VecProxy": _summarise_proxy, "Know2VecProbeLabels": _summarise_probe_labels}
    if type_name in SCHEMA_FILES:
        data = read_json(path, type_name, supported_versions=schema_versions(type_name))
        _check_content(type_name, path, data)
        info, lines = summarisers[type_name](data)
        schema = SCHEMA_FILES[type_name]
    elif type_name == "RKMETableSpecification":
        data = check_rkme_file(path)
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



def _check_content(type_name: str, path, data) -> None:
    """The checks a loader makes beyond the schema (consistency, float32 range), so ``valid`` means loadable."""
    if type_name == "LANESpecification":
        from ..specification.lane_file import lane_fields_from_dict

        lane_fields_from_dict(data, str(path))
    elif type_name == "Know2VecSpecification":
        from ..specification.know2vec import Know2VecSpecification

        Know2VecSpecification().load(path)
    elif type_name == "Know2VecProbeLabels":
        from .._checks import as_labels
        from ..specification.formats import SpecificationFormatError

        try:
            as_labels(data["labels"], len(data["labels"]), "labels")
        except (TypeError, ValueError) as err:
            raise SpecificationFormatError(f"{path}: {err}") from None


def _summarise_lane(data) -> tuple[dict, list[str]]:
    """A LANE file's shape, classes and settings (checked by :func:`_check_content` first)."""
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
        f"family seed {emb['seed']}, {emb['num_nets']} networks, "
        + ("fixed (no BatchNorm)" if emb.get("normalization") == "none" else "BatchNorm calibrated per search"),
        f"condensation: {cond['num_per_class']} per class, {cond['iterations']} iterations, "
        f"batch {cond['batch_real']}, {cond['optimizer']} lr {cond['lr']}, init {cond['init']}, seed {cond['seed']}"
        + (f", {cond['seconds']:.1f} s" if isinstance(cond.get("seconds"), (int, float)) else ""),
        f"feature range [{data['feature_range'][0]:g}, {data['feature_range'][1]:g}]",
    ]
    mixtures = data.get("class_mixtures")
    info["class_mixtures"] = None if mixtures is None else {
        "components": [len(m["weights"]) for m in mixtures], "rank": len(mixtures[0]["axes"][0]) if mixtures else 0}
    lines.append("class mixtures (mimic data): none, the points' Gaussians" if mixtures is None else
                 "class mixtures (mimic data): " + ", ".join(str(n) for n in info["class_mixtures"]["components"])
                 + f" components per class, {info['class_mixtures']['rank']} axes each")
    means = data.get("data_class_means")
    info["data_class_means"] = None if means is None else {"classes": len(means), "features": len(means[0])}
    lines.append("search class means: the condensed points'" if means is None else
                 f"search class means: the developer rows' ({len(means[0])} features per class)")
    return info, lines


def _summarise_know2vec(data) -> tuple[dict, list[str]]:
    """A Know2Vec file's classes and how much of its boundary graph the probe set found."""
    K = len(data["classes"])
    found = sum(node is not None for row in data["nodes"] for node in row)
    info = {"input_shape": data["input_shape"], "classes": data["classes"], "present": data["present"],
            "nodes_found": found, "nodes_total": K * K, "queries": data["queries"], "settings": data["settings"],
            "probe_answers": len(data["probe_predictions"]) if "probe_predictions" in data else None}
    answers = (f"its model's answers on the {info['probe_answers']} probe rows stored (a proxy trains without "
               "the model)" if info["probe_answers"] is not None else "no probe answers stored (format 1)")
    lines = [f"input shape {tuple(data['input_shape'])}, classes {data['classes']} "
             f"({sum(data['present'])} reached by the probe set)",
             f"boundary graph: {found} of {K * K} nodes, {data['queries']} model queries; {answers}",
             "settings: " + ", ".join(f"{k} {v}" for k, v in data["settings"].items())]
    return info, lines


def _summarise_proxy(data) -> tuple[dict, list[str]]:
    """A Know2Vec proxy's training settings: what a reader needs to tell two proxies apart."""
    keys = ("in_features", "num_models", "hidden", "embedding_dim", "margin", "alpha", "lr", "epochs",
            "samples_per_class", "batch_size", "seed", "final_loss", "steps_run", "training")
    info = {k: data.get(k) for k in keys}
    return info, ["proxy settings: " + ", ".join(f"{k} {info[k]}" for k in keys)]


def _summarise_probe_labels(data) -> tuple[dict, list[str]]:
    """A market's probe labels: how many rows, which classes, and the probe set they belong to."""
    counts = {}
    for label in data["labels"]:
        counts[label] = counts.get(label, 0) + 1
    info = {"rows": len(data["labels"]), "classes": list(counts), "probe_sha256": data["probe_sha256"]}
    return info, [f"{info['rows']} probe rows labelled, {len(counts)} classes: "
                  + ", ".join(f"{c!r} ({n})" for c, n in counts.items()),
                  f"labels the probe set with SHA-256 {data['probe_sha256'][:16]}..."]


def _summarise_rkme(data) -> tuple[dict, list[str]]:
    """A stock RKME file's size and shape; no schema of ours checks it, so this reads what is there."""
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
