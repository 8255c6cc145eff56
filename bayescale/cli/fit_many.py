"""``bayescale fit-many data.csv --by task --x params --y loss [--at 1e10] --out results/ [--resume]``.

Fits one law per curve (rows sharing the ``--by`` values) on all local cores or on a Dask
cluster, writing each finished curve to ``--out`` at once; ``--resume`` finishes a run that
was interrupted. Tables: ``summary.csv``, ``predictions.csv``, ``flags.csv``, ``status.csv``.
"""

from __future__ import annotations

import sys

from bayescale.cli._common import count, positive_float
from bayescale.cli._format import add_format_options


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "fit-many", help="fit one law per curve (hundreds to thousands), resumable, local or Dask",
        description="Fit one scaling law per curve of a tidy CSV: the rows sharing the --by values form a "
                    "curve. Each finished curve is written to --out at once; --resume finishes a killed run.",
    )
    parser.add_argument("csv", help="tidy CSV file, all curves together")
    parser.add_argument("--by", required=True, nargs="+", metavar="COLUMN",
                        help="column(s) identifying a curve (e.g. task, or family metric)")
    parser.add_argument("--law", default="power", help="law to fit (default: power)")
    parser.add_argument("--x", required=True, help="column of the scale")
    parser.add_argument("--y", required=True, help="column of the metric")
    parser.add_argument("--group", help="column of the group within each curve")
    parser.add_argument("--noise", default="lognormal", choices=["lognormal", "studentt", "normal"])
    parser.add_argument("--slopes", default="shared", choices=["shared", "varying"])
    parser.add_argument("--floor", default="shared", choices=["shared", "group"])
    parser.add_argument("--at", nargs="+", type=positive_float, metavar="X", help="scales to predict at")
    parser.add_argument("--prob", type=float, default=0.9, help="central interval mass (default 0.9)")
    group = parser.add_argument_group("sampling")
    group.add_argument("--draws", type=count, default=1000, help="draws per chain (default 1000)")
    group.add_argument("--tune", type=int, default=1000, help="tuning steps per chain (default 1000)")
    group.add_argument("--chains", type=count, default=4, help="chains (default 4)")
    group.add_argument("--seed", type=int, help="run seed; each curve's seed derives from it and the curve's key")
    group.add_argument("--sampler", choices=["nutpie", "pymc"],
                       help="nutpie (default when installed: compiled once per worker) or pymc")
    run_group = parser.add_argument_group("execution and output")
    run_group.add_argument("--out", metavar="DIR", help="output folder (one file per finished curve, plus tables)")
    run_group.add_argument("--resume", action="store_true", help="finish the run recorded in --out")
    run_group.add_argument("--executor", choices=["local", "dask"], default="local",
                           help="local processes (default) or a Dask cluster")
    run_group.add_argument("--scheduler", metavar="ADDRESS",
                           help="Dask scheduler address (tcp://host:8786); default: a LocalCluster")
    run_group.add_argument("--workers", type=count, help="worker processes (default: all cores)")
    run_group.add_argument("--quiet", action="store_true", help="no progress lines")
    run_group.add_argument("--plain", action="store_true", help="plain-text tables even on a terminal")
    add_format_options(parser)
    return parser


def run(args) -> int:
    from pathlib import Path

    from bayescale.cli._common import check_outputs
    from bayescale.core.console import note, print_table
    from bayescale.errors import OutputError
    from bayescale.io.spec import read_csv
    from bayescale.io.store import file_hash
    from bayescale.workflows.batch import BatchInterrupted, fit_many

    df = read_csv(args.csv)
    if args.resume and not args.out:
        raise OutputError("--resume needs --out (the folder of the run to finish)")
    check_outputs(folder=args.out)
    try:
        result = fit_many(
            df, args.by, law=args.law, x=args.x, y=args.y, group=args.group, noise=args.noise, at=args.at,
            slopes=args.slopes, floor=args.floor,
            prob=args.prob, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed,
            sampler=args.sampler, out=args.out, resume=args.resume, executor=args.executor,
            scheduler=args.scheduler, workers=args.workers, progress=not args.quiet,
            source={"data_file": str(Path(args.csv).resolve()), "data_file_sha256": file_hash(args.csv)},
        )
    except BatchInterrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    plain = True if args.plain else None
    status = result.status
    counts = status["status"].value_counts().rename_axis("status").reset_index(name="curves")
    print_table(counts, f"{len(status)} curves", index=False, plain=plain, name="status")
    if len(result.failed):
        print_table(result.failed[[*result.by, "reason"]], "Failed curves", index=False, plain=plain, name="failed")
    if result.set_aside:
        keys = ", ".join("/".join(map(str, entry["key"])) for entry in result.set_aside)
        note(f"fitted {len(result.set_aside)} curves again because a file of theirs could not be read: {keys} "
              f"(the damaged files are kept in {args.out}/quarantine/)")
    if args.out:
        note(f"wrote {args.out}/summary.csv, predictions.csv, flags.csv, status.csv and one file per curve "
              f"in {args.out}/curves/")
    else:
        print_table(result.summary, "Posterior summary per curve", index=False, plain=plain, name="summary")
        if len(result.predictions):
            print_table(result.predictions, "Predictions", index=False, plain=plain, name="predictions")
    return 0
