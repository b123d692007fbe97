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
reshapes flat rows into images. The market commands (add, list, search,
reuse) keep the market's files under ``--root`` and its index in SQLite there,
or in the database ``--database-url URL`` names (e.g. PostgreSQL).

Global flags (before or after the subcommand): ``--json`` prints one JSON
document on stdout and nothing else there; ``--quiet`` drops progress bars and
chatter (errors still go to stderr); ``--debug`` shows tracebacks.

Exit codes: 0 success; 2 bad input or usage (a missing or malformed file, data
of the wrong shape, a learnware the market rejects, unknown options); 1 any
other failure (a market that cannot be reloaded, a solver failure, a bug).

``--help`` is answered without importing torch, scikit-learn or ``learnware``:
each subcommand imports what it needs when it runs.

The package follows the learnware paradigm command by command:
:mod:`.specs` (a developer's or user's specification: generate, compare,
inspect; files through :mod:`.spec_files`), :mod:`.pack` (a learnware zip),
:mod:`.market` (open a market, add, list), :mod:`.search` (a user's search and
reuse); :mod:`.data` and :mod:`.csv_table` read data files, :mod:`.parser`
builds the argument parser, :mod:`.dispatch` runs a command, :mod:`.common`
holds what they all share. The names below are this package's public API.
"""

from .common import CLIError, Outcome
from .data import Data, load_data
from .dispatch import main
from .pack import _flatten_rows  # noqa: F401  (models packed before cli/ was a package pickled it by this name)
from .parser import build_parser
from .spec_files import check_spec_file, load_spec

__all__ = ["CLIError", "Data", "Outcome", "build_parser", "check_spec_file", "load_data", "load_spec", "main"]
