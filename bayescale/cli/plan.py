"""``bayescale plan FIT.nc --at X --budget B``: which runs narrow a forecast most per unit cost."""

from __future__ import annotations

from bayescale.cli._common import LEARNED, check_outputs, cli_discrepancy, count, positive_float


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "plan", help="plan the next runs: which narrow a forecast most per FLOP (from a saved fit)",
        description="Rank candidate runs by the expected width of the 90%% interval of a quantity after each "
                    "(preposterior simulation, reweighting the saved posterior), per unit cost, and pick a "
                    "greedy batch under --budget. Give exactly one of --at, --reach, --compute.")
    parser.add_argument("fits", nargs="+", metavar="FIT.nc", help="saved fit (several: one stacked fit's files)")
    what = parser.add_argument_group("quantity")
    what.add_argument("--at", type=positive_float, metavar="X",
                      help="the prediction at this scale (a compute budget for a chinchilla fit)")
    what.add_argument("--reach", type=float, metavar="T", help="the scale at which the metric reaches T")
    what.add_argument("--compute", type=positive_float, metavar="C",
                      help="the compute-optimal parameter count at budget C (chinchilla)")
    what.add_argument("--group", metavar="NAME", help="the group of --at / --reach in a grouped fit")
    runs = parser.add_argument_group("candidates and cost")
    runs.add_argument("--budget", type=positive_float, required=True, metavar="B",
                      help="what the batch may cost in all (FLOPs, or the unit of --candidates' cost column)")
    runs.add_argument("--candidates", nargs="+", metavar="X",
                      help="candidate scales, or one CSV file with the x column (chinchilla: params, tokens) "
                           "and optional cost, group, chain (default: a grid between and beyond the data)")
    runs.add_argument("--axis", choices=["runs", "curve"], default="runs",
                      help="new runs, or extensions of one training run (doubling; from t to 2t costs t)")
    runs.add_argument("--cost-per-unit", type=positive_float, default=1.0, metavar="K",
                      help="multiply the default cost (e.g. 6N FLOPs per token of a curve extension)")
    runs.add_argument("--max-scale", type=positive_float, metavar="S",
                      help="largest affordable scale (chinchilla: parameter count)")
    runs.add_argument("--discrepancy", type=positive_float, metavar="S", nargs="?", const=LEARNED,
                      help="as in predict: a model discrepancy growing by S per decade beyond the data")
    runs.add_argument("--sims", type=count, default=128, help="simulated outcomes per candidate (default 128)")
    runs.add_argument("--seed", type=int, help="seed (default: the fit's); the same seed gives the same plan")
    out = parser.add_argument_group("output")
    out.add_argument("--out", metavar="CSV", help="write the plan table here")
    out.add_argument("--plot", metavar="PNG", help="write the figure (expected width against cumulative cost)")
    out.add_argument("--plain", action="store_true", help="plain-text tables even on a terminal")
    from bayescale.cli._format import add_format_options

    add_format_options(parser)
    return parser


def candidates_arg(values):
    """``--candidates``: numbers, or one CSV file."""
    from bayescale.errors import DataError

    if values is None:
        return None
    if len(values) == 1 and values[0].lower().endswith(".csv"):
        from bayescale.io.spec import read_csv

        return read_csv(values[0], "candidates file")
    try:
        return [positive_float(v) for v in values]
    except Exception as err:
        raise DataError(f"--candidates takes positive scales or one CSV file; {err}") from None


def run(args) -> int:
    from bayescale.cli.predict import load_fits

    check_outputs(plot=args.plot, tables=[args.out] if args.out else ())
    fit = load_fits(args.fits)
    options = {"at": args.at, "reach": args.reach, "compute": args.compute, "group": args.group,
               "candidates": candidates_arg(args.candidates), "axis": args.axis,
               "cost_per_unit": args.cost_per_unit, "max_scale": args.max_scale, "sims": args.sims,
               "seed": args.seed}
    if args.discrepancy is not None:
        laws = list(fit.fits) if hasattr(fit, "fits") else fit.config.law
        options["discrepancy"] = cli_discrepancy(laws, args.discrepancy, fit)
    table = fit.plan(budget=args.budget, **options)
    show_plan(table, plain=True if args.plain else None)
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    if args.plot:
        write_plan_figure(table, args.plot)
    return 0


def write_plan_figure(table, path) -> None:
    from bayescale.cli._common import write_figure
    from bayescale.workflows.plan.figure import plot_plan

    write_figure(plot_plan(table), path)
    print(f"wrote {path}")


def show_plan(table, plain=None) -> None:
    """Print a plan: the batch first (in order), then the other candidates by reduction per cost."""
    from bayescale.core.console import print_table

    a = table.attrs
    shown = table.sort_values(["order", "reduction_per_cost"], ascending=[True, False], key=lambda s: s.replace(
        0, 10**9) if s.name == "order" else s)
    print_table(shown, f"Plan for {a['quantity']}: {a['prob']:.0%} interval width now {a['width_now']:.4g} "
                       f"{a['unit']}; cost in {a['cost_unit']}", index=False, plain=plain)
    print(f"\nbatch: {int((table['order'] > 0).sum())} runs for {a['batch_cost']:.4g} of budget {a['budget']:.4g}; "
          f"expected width {a['width_now']:.4g} -> {a['batch_width']:.4g}")
