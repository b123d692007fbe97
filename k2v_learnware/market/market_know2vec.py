"""Market stage: the market's own Know2Vec parts, its probe set and the boundary graph of each learnware.

The market owns a probe set (``<market>/know2vec/probe.npy``, numpy without
pickle) and queries every submitted model on it as a black box, storing the
resulting Know2VecSpecification with the learnware's own files, as the stock
hetero organizer does for its system specifications.

It may also own labels of its probe rows (``probe_labels.json``): with them
the proxy learns from tasks cut from the labelled probe set whose positives
are the most accurate models, the regime that tells apart several models of
one class subset. The labels file names the probe set it belongs to by its
fingerprint, so labels never meet another probe set: a replaced probe set
drops them, and a file whose fingerprint does not match (a writer stopped
between the two files) is ignored. Learnwares added before the probe set get
their specifications afterwards as new versions of themselves
(:func:`build_missing_know2vec_specs`).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from .._logging import module_logger

from .._checks import as_data_array, as_labels
from ..specification.formats import SpecificationFormatError, classes_problem, read_json, replace_atomically, \
    write_json
from ..specification.know2vec import BOUNDARY_QUERIES, Know2VecSpecification, generate_know2vec_spec

logger = module_logger("k2v_learnware.market")
KNOW2VEC = "Know2VecSpecification"


def probe_set(probe_file: Path, probe_X=None):
    """The market's probe set: ``probe_X`` saved (atomically) when given, else the stored one, else None."""
    if probe_X is None:
        if not probe_file.exists():
            return None
        try:
            return as_data_array(np.load(probe_file, allow_pickle=False), "the stored probe set")
        except (TypeError, ValueError, EOFError) as err:  # EOFError: an empty or cut file
            raise SpecificationFormatError(f"{probe_file} is not a probe set: {type(err).__name__}: "
                                           f"{err or 'the file ends early'}") from None
    probe_X = as_data_array(probe_X, "probe_X")
    buffer = io.BytesIO()
    np.save(buffer, probe_X, allow_pickle=False)
    replace_atomically(probe_file, buffer.getvalue())
    return probe_X


PROBE_LABELS_TYPE = "Know2VecProbeLabels"


def checked_probe_labels(probe_y, probe_X) -> list:
    """``probe_y`` as a list of labels of the probe set ``probe_X``: one per row, of one type, 2 classes at least."""
    if probe_X is None:
        raise ValueError("probe_y labels the market's probe set, but the market has none: give probe_X too")
    labels = as_labels(probe_y, len(probe_X), "probe_y")
    problem = classes_problem(list(dict.fromkeys(labels)))
    if problem or len(set(labels)) < 2:
        raise ValueError(f"probe_y: {problem or 'the probe set needs rows of at least 2 classes'}")
    return labels


def probe_labels(labels_file: Path, probe_X, fingerprint: str | None, labels=None, *, replaced: bool = False):
    """The labels of the market's probe set ``probe_X`` (whose
    :func:`~k2v_learnware.specification.know2vec.probe_fingerprint` is ``fingerprint``) as a
    list, or None when it has none.

    ``labels`` (from :func:`checked_probe_labels`) are saved atomically with the
    probe set's fingerprint. Else the stored labels are read when they belong
    to ``probe_X``; ``replaced`` (the probe set was just given anew) removes
    labels of another probe set.
    """
    if labels is not None:
        write_json(labels_file, {"type": PROBE_LABELS_TYPE, "format_version": 1, "probe_sha256": fingerprint,
                                 "labels": list(labels)})
        return list(labels)
    if probe_X is None or not labels_file.exists():
        return None
    data = read_json(labels_file, PROBE_LABELS_TYPE)
    if data["probe_sha256"] != fingerprint:
        if replaced:
            labels_file.unlink(missing_ok=True)
        else:
            logger.warning(f"{labels_file} labels another probe set than the market's; it is not used")
        return None
    try:
        return as_labels(data["labels"], len(probe_X), "probe labels")
    except (TypeError, ValueError) as err:
        raise SpecificationFormatError(f"{labels_file}: {err}") from None


def write_know2vec_spec(learnware, probe_X, path: Path, options: dict) -> None:
    """Query the learnware's model on the probe set and save its boundary graph at ``path``."""
    learnware.instantiate_model()
    model = learnware.get_model()
    shape = tuple(getattr(model, "input_shape", ()) or ())
    probe = probe_X
    if shape and int(np.prod(shape)) != int(np.prod(probe.shape[1:])):
        logger.warning(f"no Know2Vec specification: the model's input shape {shape} differs from the probe "
                       f"set's {probe.shape[1:]}")
        return
    if shape:
        probe = probe.reshape((len(probe),) + shape)
    # the budget is the boundary search's, beyond the probe set: a market's probe set may be of any size
    options = {"max_queries": len(probe) + BOUNDARY_QUERIES, **options}
    generate_know2vec_spec(model, probe, **options).save(path)


def know2vec_spec_of(learnware):
    """The learnware's Know2Vec specification, or None when it has none (or is None itself)."""
    spec = None if learnware is None else learnware.get_specification().get_stat_spec().get(KNOW2VEC)
    return spec if isinstance(spec, Know2VecSpecification) else None


def without_probe_spec(organizer) -> list[str]:
    """Ids of the market's learnwares with no Know2Vec specification built on its probe set (none, one of another
    probe set, or a format 1 one, which does not say), in id order."""
    return [i for i, learnware in sorted(organizer.learnware_list.items())
            if getattr(know2vec_spec_of(learnware), "settings", {}).get("probe_sha256") != organizer.probe_sha256]


def build_missing_know2vec_specs(organizer, verbose: bool = False) -> dict:
    """Give every learnware of the market without a Know2Vec specification on its probe set one.

    Learnwares added before the market had this probe set have none (or one of
    another probe set). Each gets a new version of itself: its own zip staged
    again, which builds the specification, switched in through the organizer's
    update (refused when another process changed the learnware meanwhile; its
    semantic specification and status stay). Returns ``{"built": [ids],
    "failed": {id: reason}}``; a learnware whose model takes another input
    shape than the probe set's gets none and is named in ``failed``, as is
    one another process deleted or changed meanwhile (its new version is kept).
    """
    import shutil
    import tempfile

    from learnware.market.base import BaseChecker

    from .._progress import progress

    organizer.refresh()
    if organizer.probe_X is None:
        raise ValueError(f"market {organizer.market_id!r} has no probe set; give it one first")
    built, failed = [], {}
    for learnware_id in progress(without_probe_spec(organizer), verbose=verbose, desc="Know2Vec specifications",
                                 unit="lw", leave=False):
        # The revision and the zip come from one read: a change after it refuses the update, so another
        # process's new version is never replaced by a copy of the old one. A learnware deleted or changed
        # meanwhile (its row or its files gone) is named in ``failed`` and the others go on.
        version = organizer.stored_version(learnware_id)
        if version is None:
            failed[learnware_id] = "it was deleted by another process meanwhile"
            continue
        row, stored = version
        try:
            with tempfile.TemporaryDirectory(prefix="k2v_respec_") as folder:
                again = Path(folder) / "learnware.zip"  # another path: the update stages the zip anew
                shutil.copyfile(stored, again)
                status = organizer.update_learnware(learnware_id, zip_path=str(again),
                                                    expected_revision=row.row_revision)
        except OSError as err:  # its files went with an update or a delete by another process
            failed[learnware_id] = f"its stored zip could not be read (changed by another process?): {err}"
            continue
        spec = know2vec_spec_of(organizer.get_learnware_by_ids(learnware_id))
        if status == BaseChecker.INVALID_LEARNWARE:
            failed[learnware_id] = organizer.last_error or "the update was refused"
        elif spec is None or spec.settings.get("probe_sha256") != organizer.probe_sha256:
            failed[learnware_id] = "no Know2Vec specification: its model takes another input shape than the probe set"
        else:
            built.append(learnware_id)
    return {"built": built, "failed": failed}
