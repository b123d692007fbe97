"""What a writer may produce is what its loader reads: the code's size limits are the JSON Schemas' maxima.

Builders and constructors check their arguments against ``LIMITS`` tables (and a
few constants) so that a spec or proxy that is built always saves and loads
again; the schemas in ``specs/`` are what loading checks. These tests keep the
two equal, and the package's copy of the schemas equal to the repository's.
"""

import filecmp
import json
from pathlib import Path

import pytest

from k2v_learnware.retrieval import proxy_files
from k2v_learnware.specification import class_mixtures, know2vec, lane_file

ROOT = Path(__file__).resolve().parents[1]


def _schema(name: str) -> dict:
    return json.loads((ROOT / "specs" / name).read_text(encoding="utf-8"))


def _at(schema: dict, path: str):
    node = schema
    for key in path.split("/"):
        node = node[key]
    return node


LANE = {  # LIMITS key -> where the schema holds the same bound
    "features": ["properties/z/items/maxItems"],
    "points": ["properties/z/maxItems", "properties/labels/maxItems"],
    "classes": ["properties/classes/maxItems", "properties/class_counts/maxItems",
                "properties/class_mixtures/maxItems", "properties/data_class_means/maxItems"],
    "num_nets": ["properties/embedding/properties/num_nets/maximum"],
    "width": ["properties/embedding/properties/width/maximum"],
    "depth": ["properties/embedding/properties/depth/maximum"],
    "num_per_class": ["properties/condensation/properties/num_per_class/maximum"],
    "iterations": ["properties/condensation/properties/iterations/maximum"],
    "batch_real": ["properties/condensation/properties/batch_real/maximum"],
    "class_count": ["properties/class_counts/items/maximum"],
    "family_output": ["properties/data_class_means/items/maxItems"],
}


def test_every_lane_limit_is_the_schemas_maximum():
    schema = _schema("lane-specification.schema.json")
    assert set(LANE) == set(lane_file.LIMITS), "a LIMITS entry without its schema bound (or the reverse)"
    for key, paths in LANE.items():
        for path in paths:
            assert _at(schema, path) == lane_file.LIMITS[key], (key, path)
    mixture = _at(schema, "properties/class_mixtures/items/properties")
    assert mixture["weights"]["maxItems"] == mixture["means"]["maxItems"] == class_mixtures.MAX_COMPONENTS
    assert mixture["axes"]["items"]["maxItems"] == class_mixtures.MAX_RANK


def test_every_proxy_limit_is_the_schemas_maximum():
    properties = _schema("know2vec-proxy.schema.json")["properties"]
    for key, value in proxy_files.LIMITS.items():
        assert properties[key]["maximum"] == value, key


def test_know2vec_limits_are_the_schemas_maxima():
    properties = _schema("know2vec-specification.schema.json")["properties"]
    assert properties["classes"]["maxItems"] == properties["present"]["maxItems"] == know2vec.MAX_CLASSES
    assert properties["input_shape"]["items"]["maximum"] == know2vec.MAX_DIMENSION


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "specs").iterdir()))
def test_the_package_ships_the_repositorys_schemas(name):
    # loading reads k2v_learnware/specs/ (installed with the package); specs/ is what the README documents
    assert filecmp.cmp(ROOT / "specs" / name, ROOT / "k2v_learnware" / "specs" / name, shallow=False)
    assert sorted(p.name for p in (ROOT / "k2v_learnware" / "specs").iterdir()) == \
        sorted(p.name for p in (ROOT / "specs").iterdir())


SCHEMAS = ["lane-specification", "know2vec-specification", "know2vec-proxy", "know2vec-probe-labels"]


@pytest.mark.parametrize("name", SCHEMAS)
def test_specs_readme_documents_every_field_of_every_schema(name):
    """specs/README.md's table of a schema names each of its top-level fields (a field written but not
    described there was the proxy's early-stopping settings)."""
    readme = (ROOT / "specs" / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"`{name}.schema.json` —")[1].split("\n## ")[0]
    documented = {cell.strip("`").split(".")[0] for line in section.splitlines() if line.startswith("| `")
                  for cell in line.split("|")[1].replace(",", " ").split()}
    fields = set(_schema(f"{name}.schema.json")["properties"])
    assert not fields - documented, f"{name}: fields without a row in specs/README.md: {sorted(fields - documented)}"
