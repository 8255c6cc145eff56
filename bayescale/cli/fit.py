"""``bayescale fit data.csv --law power --x params --y loss [--group domain] [--at 1e10 1e11]``."""

from __future__ import annotations

from bayescale.cli._common import (
    add_discrepancy_options,
    add_flag_options,
    add_output_options,
    add_reach_option,
    add_sampling_options,
    check_outputs,
    check_reach,
    cli_discrepancy,
    discrepancy_choice,
    positive_float,
    report,
    sampling_kwargs,
)
from bayescale.cli._format import add_format_options


def add_parser(subparsers):
    parser = subparsers.add_parser("fit", help="fit a scaling law to a CSV file and extrapolate",
                                   description="Fit a scaling law to a tidy CSV (one row per observation).")
    parser.add_argument("csv", help="tidy CSV file")
    parser.add_argument("--law", nargs="+", default=["power"], metavar="LAW",
                        help="law to fit: power (default), broken, sigmoid, chinchilla; several laws, or auto, "
                             "are stacked (see --weights)")
    parser.add_argument("--weights", default="lfo", choices=["lfo", "loo"],
                        help="stacking weights of several laws: leave-future-out (default: refits on each curve's "
                             "smaller scales score its larger ones) or PSIS-LOO")
    parser.add_argument("--measure", choices=["loss", "error", "accuracy"],
                        help="--law auto: what y measures (a loss or error falls with scale: power and broken laws; "
                             "an accuracy rises: sigmoid); default: read from the data")
    parser.add_argument("--x", required=True, nargs="+", metavar="COLUMN",
                        help="column of the scale (params, tokens, compute, ...); two for chinchilla (params tokens)")
    parser.add_argument("--y", required=True, help="column of the metric (loss, error, ...)")
    parser.add_argument("--group", help="column of the group (source, subgroup, family)")
    parser.add_argument("--noise", choices=["lognormal", "studentt", "normal", "betabinomial", "binomial", "beta"],
                        help="observation noise (default: lognormal; beta-binomial/beta for the sigmoid)")
    parser.add_argument("--trials", help="sigmoid: column (or one number) of eval-set sizes; y is then accuracy")
    parser.add_argument("--breaks", type=int, choices=[1, 2], help="broken law: number of breaks (default 1)")
    parser.add_argument("--slopes", default="shared", choices=["shared", "varying"])
    parser.add_argument("--floor", default="shared", choices=["shared", "group"])
    parser.add_argument("--at", nargs="+", type=positive_float, metavar="X", help="scales to predict at")
    add_discrepancy_options(parser, at_fit=True)
    add_reach_option(parser)
    add_sampling_options(parser)
    add_output_options(parser)
    add_format_options(parser)
    add_flag_options(parser)
    return parser


def run(args) -> int:
    import bayescale
    from bayescale.io.spec import read_csv

    check_outputs(plot=args.plot, save=args.save, report=args.report)
    df = read_csv(args.csv)
    law = args.law[0] if len(args.law) == 1 else args.law
    args.discrepancy = discrepancy_choice(args)
    if args.discrepancy not in (None, False):
        args.discrepancy = cli_discrepancy(args.law, args.discrepancy)
    trials = int(args.trials) if args.trials and args.trials.isdigit() else args.trials
    x = args.x[0] if len(args.x) == 1 else args.x
    if len(args.x) > 2 or len(args.x) == 2 and args.law != ["chinchilla"]:
        from bayescale.errors import LawError

        raise LawError(f"--x takes one column, or two (params tokens) for the chinchilla law; got "
                       f"{' '.join(args.x)} for --law {' '.join(args.law)}")
    if args.reach:
        from bayescale.fitting.stacking import candidate_laws

        laws = args.law if law != "auto" else candidate_laws(df, law, x=x, y=args.y, trials=trials,
                                                             measure=args.measure)
        check_reach(args.reach, laws, args.noise)
    fit = bayescale.fit(
        df, law=law, x=x, y=args.y, group=args.group, noise=args.noise, slopes=args.slopes, floor=args.floor,
        trials=trials, breaks=args.breaks, weights=args.weights, measure=args.measure, progress=not args.quiet,
        **sampling_kwargs(args),
        discrepancy=True if args.discrepancy is True else False if args.discrepancy is False else None,
        axis=args.axis, drift_prior=args.drift_prior,
    )
    report(fit, at=args.at, prob=args.prob or 0.9, plot=args.plot, save=args.save, plain=args.plain,
           discrepancy=args.discrepancy, all_flags=args.all_flags, reach=args.reach)
    if args.report:
        from bayescale.reports import reproduce_command, write_report

        write_report(fit, args.report, at=args.at, prob=args.prob or 0.9, discrepancy=args.discrepancy,
                     reach=args.reach, command=reproduce_command(args, ["csv"], seed=fit.config.seed))
        from bayescale.core.console import note

        note(f"wrote report {args.report}")
    return 0
