"""The ``k2v-learnware`` argument parser: every command, its options and its ``--help``.

Serves every stage of the learnware paradigm by naming them as commands
(``generate`` a specification, ``pack`` and ``add`` a learnware, ``list`` a
market, ``probe`` and ``fit-proxy`` for Know2Vec, ``search`` and ``reuse`` as
a user, ``compare`` and ``inspect`` specifications). Kept apart from the work
so ``--help`` and usage errors cost nothing: the command modules import torch,
scikit-learn and ``learnware`` only inside the commands, when one runs.
"""

from __future__ import annotations

import argparse
import os
import re

from .common import PROG
from .know2vec import cmd_fit_proxy, cmd_probe
from .market import cmd_add, cmd_list
from .pack import ESTIMATORS, cmd_pack
from .search import cmd_reuse, cmd_search
from .service import cmd_serve, cmd_token
from .specs import cmd_compare, cmd_generate, cmd_inspect


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors as one ``k2v-learnware: error:`` line (exit 2), like every other error; --help has the rest."""

    def error(self, message):
        command = self.prog.split(" ", 1)[1] + " " if " " in self.prog else ""
        self.exit(2, f"{PROG}: error: {command}{message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (no heavy imports: ``--help`` must be instant)."""
    from .. import __version__

    common = _output_flags()
    data_opts, market_opts, search_opts = _data_options(), _market_options(), _requirement_options()
    parser = OneLineErrorParser(
        prog=PROG, parents=[common],
        description="LANE specifications and a learnware market (Beimingwu) from the command line.",
        epilog="Exit codes: 0 success, 2 bad input or usage, 1 other failures. "
               f"`{PROG} COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, func, help_text, parents=()):
        """A subcommand whose --help description is its function's docstring."""
        p = sub.add_parser(name, parents=[common, *parents], help=help_text, description=_plain(func.__doc__))
        p.set_defaults(func=func)
        return p

    p = add("generate", cmd_generate, "condense a .npz/.npy/.csv data file into a LANE specification", [data_opts])
    p.add_argument("data", metavar="DATA", help="data file (.npz, .npy or .csv)")
    p.add_argument("-o", "--output", required=True, metavar="SPEC.json", help="specification file to write")
    p.add_argument("--per-class", type=_count(1), default=10, metavar="K",
                   help="synthetic points per class (default 10)")
    p.add_argument("--iterations", type=_count(0), metavar="N",
                   help="condensation iterations (default 20 when every class has at least 100 rows, "
                        "else 200 labelled, 600 unlabelled)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--init", choices=("real", "kmeans", "noise"), default="kmeans",
                   help="starting points; kmeans and noise never copy a real row into the spec (default kmeans)")
    p.add_argument("--unlabelled", action="store_true", help="ignore labels: a user's requirement")

    p = add("pack", cmd_pack, "pack a model and its specification files into a learnware zip", [data_opts])
    p.add_argument("specs", nargs="+", metavar="SPEC", help="specification files: one LANE, optionally an RKME")
    p.add_argument("-o", "--output", required=True, metavar="LW.zip", help="learnware zip to write")
    p.add_argument("--overwrite", action="store_true", help="replace LW.zip if it exists")
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

    p = add("probe", cmd_probe, "give a market its Know2Vec probe set (and its labels)", [market_opts, data_opts])
    p.add_argument("data", metavar="DATA", help="the probe rows (.npz, .npy or .csv), labels included if any")
    p.add_argument("--unlabelled", action="store_true", help="ignore the file's labels")
    p.add_argument("--build-specs", action="store_true",
                   help="give learnwares added before a Know2Vec specification on this probe set")

    p = add("fit-proxy", cmd_fit_proxy, "train a market's Know2Vec proxy on its learnwares", [market_opts])
    p.add_argument("--regime", choices=("auto", "labelled", "identity"), default="auto",
                   help="labelled: tasks from the labelled probe set, positives the most accurate learnwares; "
                        "identity: the paper's; auto (default): labelled when the probe set has labels")
    p.add_argument("--task-group", action="append", metavar="CLASSES",
                   help="labelled regime: comma-separated probe labels one task draws its classes from (e.g. one "
                        "data domain); repeat for each group (default: one group of every label)")
    p.add_argument("--epochs", type=_count(1), metavar="N", help="at most N training steps (default: the proxy's)")
    p.add_argument("--seed", type=_count(0), default=0, help="random seed (default 0)")

    p = add("search", cmd_search, "search a market with a user's data", [market_opts, search_opts, data_opts])
    p.add_argument("data", metavar="DATA", help="the user's data file (labels, if any, are ignored; --know2vec "
                                                "needs them)")
    p.add_argument("--server", metavar="URL", help="search a market service (k2v-learnware serve) at URL instead "
                                                   "of a local market")
    p.add_argument("--know2vec", action="store_true",
                   help="rank learnwares with the market's Know2Vec proxy from the labelled rows' per-class means")

    p = add("reuse", cmd_reuse, "search, then predict the user's rows with the learnwares found",
            [market_opts, search_opts, data_opts])
    p.add_argument("data", metavar="DATA", help="the user's data file (with labels, accuracy is reported)")
    p.add_argument("-o", "--output", required=True, metavar="PRED.npy", help="predictions file (.npy or .csv)")
    p.add_argument("--reuser", choices=("class-router", "job-selector"), default="class-router",
                   help="class-router (default): label-shift weights from the rows and a selector over classes; "
                        "job-selector: the LANE paper's selector over learnwares")

    p = add("serve", cmd_serve, "serve a market over HTTP for the stock learnware client", [market_opts])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_count(1, maximum=65535), default=8000, help="port, 1-65535 (default 8000)")
    p.add_argument("--workers", type=_count(1, maximum=MAX_WORKERS), default=1, metavar="N",
                   help=f"worker processes, 1-{MAX_WORKERS} (default 1)")
    p.add_argument("--max-upload-mb", type=_count(1), default=200, metavar="MB",
                   help="largest learnware zip accepted (default 200; unpacked at most 5x that)")
    p.add_argument("--submission-timeout", type=_count(1), default=300, metavar="SECONDS",
                   help="longest one add or update may take; its checks run the learnware's code in a process "
                        "of their own, killed after this (default 300)")
    p.add_argument("--submission-memory-mb", type=_count(0), default=4096, metavar="MB",
                   help="data memory one add or update may use beyond the libraries it starts with (RLIMIT_DATA; "
                        "default 4096, 0: no limit)")

    p = add("token", cmd_token, "create a developer account of a market and print its token", [market_opts])
    p.add_argument("action", choices=("add",), help="add: create the account, or give it a new token")
    p.add_argument("email", metavar="EMAIL")

    p = add("compare", cmd_compare, "distance and similarity of two specification files")
    p.add_argument("a", metavar="A.json")
    p.add_argument("b", metavar="B.json")
    p.add_argument("--proxy", metavar="DIR",
                   help="a fitted Know2Vec proxy folder (proxy.json + its weights), to compare two Know2Vec specs")

    p = add("inspect", cmd_inspect, "validate a specification file and summarise it")
    p.add_argument("spec", metavar="SPEC.json", help="a LANE, Know2Vec or RKME file, or a proxy folder")
    return parser


def _output_flags() -> argparse.ArgumentParser:
    """--json, --quiet and --debug, accepted before or after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    flags = common.add_argument_group("output")
    # SUPPRESS: a flag given before the subcommand is not reset by the subcommand's default.
    flags.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="print one JSON document on stdout and nothing else there")
    flags.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars or chatter; errors still go to stderr")
    flags.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show a traceback on errors")
    return common


def _data_options() -> argparse.ArgumentParser:
    """How to read a data file: which arrays, which labels, which image shape."""
    data_opts = argparse.ArgumentParser(add_help=False)
    group = data_opts.add_argument_group("data file")
    group.add_argument("--x-key", metavar="KEY", help=".npz: the array holding X (default 'X', else the first)")
    group.add_argument("--y-key", metavar="KEY", help=".npz: the array holding labels (default 'y', else the second)")
    group.add_argument("--labels", metavar="FILE.npy", help="labels from a separate .npy file")
    group.add_argument("--label-column", metavar="NAME|INDEX", help=".csv: the label column (by header name or index)")
    group.add_argument("--images", metavar="C,H,W", help="reshape each row into an image of this shape")
    return data_opts


def _market_options() -> argparse.ArgumentParser:
    """Which market: its name, the folder of its files, and the database of its index."""
    market_opts = argparse.ArgumentParser(add_help=False)
    group = market_opts.add_argument_group("market")
    group.add_argument("--market", default=os.environ.get("K2V_MARKET", "k2v"),
                       help="market name (default: $K2V_MARKET or 'k2v')")
    group.add_argument("--root", default=os.environ.get("K2V_MARKET_ROOT") or None,  # an empty variable: unset
                       help="folder holding the market's files and SQLite index "
                            "(default: $K2V_MARKET_ROOT, else learnware's ~/.learnware)")
    group.add_argument("--database-url", metavar="URL",
                       help="database holding the market's index instead of SQLite under --root, e.g. "
                            "postgresql://USER:PASSWORD@HOST:PORT (the learnware files stay under --root)")
    return market_opts


def _requirement_options() -> argparse.ArgumentParser:
    """How a user's rows are condensed into a requirement, and how many learnwares come back."""
    search_opts = argparse.ArgumentParser(add_help=False)
    group = search_opts.add_argument_group("requirement")
    group.add_argument("--per-class", type=_count(1), default=50, metavar="K",
                       help="points in the user's condensed requirement (default 50)")
    group.add_argument("--iterations", type=_count(0), metavar="N",
                       help="condensation iterations (default 20 for a requirement of at least 100 rows, else 600)")
    group.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    group.add_argument("--max", type=_count(1), default=5, metavar="N",
                       help="at most N learnwares returned (default 5)")
    return search_opts


def _plain(docstring: str) -> str:
    """A command's docstring as --help prints it: without Sphinx roles and double backticks, which --help
    showed to users as is ("(:mod:`k2v_learnware.market.listing`), without importing ``learnware``")."""
    return re.sub(r":\w+:`~?([^`]*)`", r"\1", docstring).replace("``", "")


#: The most ``serve --workers``: each worker imports torch and ``learnware``, opens the market and starts a
#: zygote that does the same (~1 GB together), so a typo such as ``--workers 100000`` forked workers until the
#: machine ran out of memory and the kernel killed the server and its neighbours.
MAX_WORKERS = 64


def _count(minimum: int, maximum: int | None = None):
    """An argparse type: an integer >= ``minimum`` (and <= ``maximum``; a usage error otherwise)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse
