"""``bayescale backtest data.csv --x step --y loss --group domain --split frac:0.6 [--out DIR]``."""

from __future__ import annotations

import argparse

from bayescale.cli._format import add_format_options


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "backtest", help="fit the small-scale part of each curve, score forecasts of the rest against least squares",
        description="Fit each curve below a cutoff (by default with law auto, the stacked candidate laws) and score "
                    "the held-out points: coverage of 50/80/90% intervals, interval score, width, CRPS, RMSLE and "
                    "relative error against extrapolation distance, beside least-squares, bootstrap, log-log and "
                    "BNSL baselines on the same splits.")
    parser.add_argument("csv", help="tidy CSV file")
    parser.add_argument("--x", required=True, help="column of the scale")
    parser.add_argument("--y", required=True, help="column of the metric (> 0)")
    parser.add_argument("--group", nargs="+", help="column(s) identifying a curve")
    parser.add_argument("--law", default="auto",
                        help="auto (default: the candidate laws stacked by leave-future-out weights), or one law: "
                             "power, broken, sigmoid")
    parser.add_argument("--measure", choices=["loss", "error", "accuracy"],
                        help="--law auto: what y measures (default: read from each training curve)")
    parser.add_argument("--noise", choices=["lognormal", "studentt", "normal"])
    parser.add_argument("--split", action="append", metavar="SPEC",
                        help="frac:F (fit the first F of each curve's log-x range), x:X (fit x < X), last:K (all "
                             "but the K largest x); repeat or give frac:0.4,0.6 for a rolling origin "
                             "(default frac:0.6)")
    parser.add_argument("--train-column", metavar="COL", help="boolean column marking the rows to fit on")
    parser.add_argument("--discrepancy", action="store_true",
                        help="also update the drift prior with the data's own in-sample backtests (method "
                             "bayescale+disc; one more fit per curve and cutoff)")
    parser.add_argument("--no-discrepancy", action="store_true",
                        help="score the posterior alone (no bayescale+prior method)")
    parser.add_argument("--drift-prior", metavar="FILE", help="drift prior (default: the shipped one)")
    parser.add_argument("--no-baselines", action="store_true", help="skip the least-squares baselines")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--workers", type=int, help="processes (default: all cores; 1 runs inline)")
    parser.add_argument("--executor", default="local", choices=["local", "dask"])
    parser.add_argument("--scheduler", help="Dask scheduler address (with --executor dask)")
    group = parser.add_argument_group("sampling")
    group.add_argument("--draws", type=int, default=500, help="posterior draws per chain (default 500)")
    group.add_argument("--tune", type=int, default=500, help="tuning steps per chain (default 500)")
    group.add_argument("--chains", type=int, default=2, help="chains (default 2)")
    group.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    group.add_argument("--sampler", choices=["pymc", "nutpie"], help="NUTS (default nutpie if installed)")
    out = parser.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", help="keep every finished fit here as it is done, and write the "
                     "points/summary/table/per_curve/by_distance/failures CSVs at the end")
    out.add_argument("--resume", action="store_true", help="finish an interrupted run in --out (same data, spec, seed)")
    out.add_argument("--table", metavar="CSV", help="write the table (methods as columns) here")
    out.add_argument("--plot-calibration", metavar="PNG", help="write the calibration figure here")
    out.add_argument("--plot-error", metavar="PNG", help="write the error-vs-distance figure here")
    out.add_argument("--plain", action="store_true", help="plain-text tables even on a terminal")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    add_format_options(parser)
    return parser


def _positive(value, name: str) -> None:
    from bayescale.errors import SpecError

    if value is not None and value < 1:
        raise SpecError(f"--{name} must be >= 1, got {value}")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bayescale.cli._common import check_outputs, write_figure
    from bayescale.core.console import note, print_table
    from bayescale.core.files import atomic_write
    from bayescale.errors import SpecError
    from bayescale.io.spec import read_csv
    from bayescale.workflows.backtest import backtest

    df = read_csv(args.csv)
    if args.resume and not args.out:
        raise SpecError("--resume needs --out (the folder of the interrupted run)")
    if args.split and args.train_column:
        raise SpecError("give either --split or --train-column, not both")
    for name in ("workers", "n_boot", "draws", "tune", "chains"):
        _positive(getattr(args, name), name.replace("_", "-"))
    check_outputs(tables=[args.table], plots=[args.plot_calibration, args.plot_error], folder=args.out)
    if args.law != "auto":  # an unknown law would otherwise fail once per curve, after the baselines ran
        from bayescale.core.registry import law_spec

        law_spec(args.law)
    split = [item for spec in args.split for item in _expand(spec)] if args.split else 0.6
    group = args.group[0] if args.group and len(args.group) == 1 else args.group
    if args.discrepancy and args.no_discrepancy:
        from bayescale.errors import DataError

        raise DataError("--discrepancy and --no-discrepancy contradict each other: give one")
    result = backtest(
        df, law=args.law, x=args.x, y=args.y, group=group, measure=args.measure, split=split,
        train_column=args.train_column, name=Path(args.csv).stem, noise=args.noise, draws=args.draws,
        tune=args.tune, chains=args.chains, seed=args.seed, sampler=args.sampler,
        baselines=not args.no_baselines, n_boot=args.n_boot, drift_prior=args.drift_prior,
        discrepancy="learn" if args.discrepancy else False if args.no_discrepancy else "prior",
        workers=args.workers, executor=args.executor, scheduler=args.scheduler,
        progress=not args.quiet, out=args.out, resume=args.resume,
    )
    plain = True if args.plain else None
    table = result.table()
    print_table(table, "Backtest (methods as columns)", index=False, plain=plain, name="backtest")
    law = "" if args.law == "power" else f" --law {args.law}"  # s belongs to the law it was learned for
    for row in result.discrepancy_support.itertuples():
        note(f"\ndiscrepancy sd of log y per decade beyond the fitted range, {row.dataset}: " + (
            f"{row.s:.3g} (90% interval {row.s_low:.3g} to {row.s_high:.3g}; from {row.errors} held-in rows of "
            f"{row.curves} curves); use it with 'bayescale fit ...{law} --discrepancy {row.s:.3g}' or "
            f"'[predict] discrepancy = {row.s:.3g}'" if row.curves else
            "none learned (no curve had enough training rows)"))
    if len(result.failures):
        print_table(result.failures, f"{len(result.failures)} fits failed (recorded, skipped)", index=False,
                    plain=plain, name="failures")
    if result.set_aside:
        fits = ", ".join(f"{entry['curve']} at {entry['cutoff']}" for entry in result.set_aside)
        note(f"\nran {len(result.set_aside)} fits again because a file of theirs could not be read: {fits} "
              f"(the damaged files are kept in {args.out}/quarantine/)")
    note(f"\n{result.seconds:.1f} s")
    if args.out:
        note(f"wrote {args.out}/")
    if args.table:
        atomic_write(args.table, lambda p: table.to_csv(p, index=False))
        note(f"wrote {args.table}")
    if len(result.points) and (args.plot_calibration or args.plot_error):
        import matplotlib

        matplotlib.use("Agg")
        if args.plot_calibration:
            write_figure(result.plot_calibration(), args.plot_calibration)
            note(f"wrote {args.plot_calibration}")
        if args.plot_error:
            write_figure(result.plot_error(), args.plot_error)
            note(f"wrote {args.plot_error}")
    return 0


def _expand(spec: str) -> list[str]:
    """``frac:0.4,0.6`` -> ``["frac:0.4", "frac:0.6"]`` (a rolling origin)."""
    if ":" in spec and "," in spec and not spec.startswith("column:"):
        kind, values = spec.split(":", 1)
        return [f"{kind}:{v}" for v in values.split(",")]
    return [spec]
