"""``bayescale predict FIT.nc --at X [X ...]``: predictions, flags, figure and report from a saved fit.

Nothing is refitted: the posterior saved by ``bayescale fit ... --save FIT.nc`` (or a spec's
``[output] save``) serves every table. Several files saved from one stacked fit
(``fit.power.nc fit.broken.nc``) are stacked again. For a chinchilla fit ``--at`` takes
compute budgets (FLOPs), as with ``bayescale fit --law chinchilla``.
"""

from __future__ import annotations

from bayescale.cli._common import (
    add_discrepancy_options,
    add_flag_options,
    add_reach_option,
    check_outputs,
    check_reach,
    cli_discrepancy,
    discrepancy_choice,
    positive_float,
    probability,
    report,
)
from bayescale.cli._format import add_format_options


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict", help="predict from a saved fit (fit --save FIT.nc) without refitting",
        description="Serve predictions, flags, a figure and a report from a fit saved with --save, without "
                    "refitting. For a chinchilla fit, --at takes compute budgets (FLOPs).")
    parser.add_argument("fits", nargs="+", metavar="FIT.nc",
                        help="saved fit; several files written by one stacked fit are stacked again")
    targets = parser.add_argument_group("targets")
    targets.add_argument("--at", nargs="+", type=positive_float, metavar="X",
                         help="scales to predict at (compute budgets for a chinchilla fit)")
    targets.add_argument("--group", nargs="+", metavar="NAME", help="groups to predict for (default: all)")
    targets.add_argument("--prob", type=probability, help="central interval mass (default 0.9)")
    add_discrepancy_options(targets, at_fit=False)
    add_reach_option(targets)
    output = parser.add_argument_group("output")
    output.add_argument("--plot", metavar="PNG", help="write the figure here")
    output.add_argument("--report", metavar="HTML", help="write a self-contained HTML report here")
    output.add_argument("--plain", action="store_true", help="plain-text tables even on a terminal")
    add_flag_options(output)
    add_format_options(parser)
    return parser


def load_fits(paths):
    """The fit saved at ``paths[0]``, or the stacked fit of several laws saved from one stacked fit."""
    import bayescale
    from bayescale.errors import DataError

    fits = [bayescale.load(path) for path in paths]
    if len(fits) == 1:
        return fits[0]
    from bayescale.results.stacked import StackedFit

    laws = [f.config.law for f in fits]
    if len(set(laws)) < len(laws) or "chinchilla" in laws:
        raise DataError(f"several saved fits are stacked again only when each is of a different one-input law; "
                        f"got laws {', '.join(laws)} from {', '.join(map(str, paths))}")
    return StackedFit(dict(zip(laws, fits, strict=True)))


def check_groups(fit, groups) -> None:
    """Refuse unknown ``--group`` names before any table is computed."""
    from bayescale.core.posterior import NEW_GROUP
    from bayescale.errors import DataError

    if not groups:
        return
    if fit.config.law == "chinchilla":
        raise DataError("--group: the chinchilla law is fitted without groups")
    unknown = [g for g in groups if g not in fit.data.groups and g != NEW_GROUP]
    if unknown:
        raise DataError(f"--group: unknown group(s) {', '.join(map(repr, unknown))}; the fit has "
                        f"{', '.join(fit.data.groups)} (or {NEW_GROUP!r} for a new group)")


def run(args) -> int:
    check_outputs(plot=args.plot, report=args.report)
    fit = load_fits(args.fits)
    check_groups(fit, args.group)
    laws = list(getattr(fit, "fits", {fit.config.law: fit}))
    args.discrepancy = discrepancy_choice(args)
    if args.discrepancy not in (None, False):
        args.discrepancy = cli_discrepancy(laws, args.discrepancy, fit=fit)
    for one in getattr(fit, "fits", {"": fit}).values() if args.reach else ():
        check_reach(args.reach, [one.config.law], one.config.noise)
    from bayescale.core.console import note

    prob = args.prob or 0.9
    note(f"{repr(fit)}\nfrom {', '.join(map(str, args.fits))}")
    report(fit, at=args.at, prob=prob, groups=args.group, plot=args.plot, plain=args.plain,
           discrepancy=args.discrepancy, all_flags=args.all_flags, reach=args.reach, reach_groups=args.group)
    if args.report:
        from bayescale.reports import write_report

        write_report(fit, args.report, at=args.at, prob=prob, groups=args.group, discrepancy=args.discrepancy,
                     reach=args.reach, reach_groups=args.group, command=command_line(args))
        note(f"wrote report {args.report}")
    return 0


def command_line(args) -> str:
    """The ``bayescale predict`` command that repeats this one (saved files first)."""
    import argparse
    import shlex

    from bayescale.reports import reproduce_command

    options = {k: v for k, v in vars(args).items() if k not in ("fits", "command")}
    tail = reproduce_command(argparse.Namespace(**options), [])
    return shlex.join(["bayescale", "predict", *map(str, args.fits)]) + tail.removeprefix("bayescale")
