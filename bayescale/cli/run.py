"""``bayescale run SPEC.toml``: run a study spec from ``models/``."""

from __future__ import annotations

from bayescale.cli._common import (
    add_flag_options,
    add_output_options,
    add_sampling_options,
    check_outputs,
    make_parent,
    report,
    sampling_kwargs,
)
from bayescale.cli._format import add_format_options


def add_parser(subparsers):
    parser = subparsers.add_parser("run", help="run a TOML study spec (see models/)",
                                   description="Run a TOML study spec: data, law, priors, targets, outputs.")
    parser.add_argument("spec", help="TOML spec file")
    add_sampling_options(parser)
    add_output_options(parser)
    add_format_options(parser)
    add_flag_options(parser)
    return parser


def run(args) -> int:
    import bayescale
    from bayescale.io.spec import check_groups, load_data, load_spec

    spec = load_spec(args.spec)
    frame = load_data(spec)
    reach_groups = spec.reach.get("group")
    check_groups(spec, frame, spec.predict.get("groups"), "predict.groups")
    check_groups(spec, frame, reach_groups, "reach.group")
    plot = args.plot or spec.output.get("plot")
    save = args.save or spec.output.get("save")
    html = args.report or spec.output.get("report")
    # the spec's [output] folders are made when the results are written, so a failed run leaves none behind
    check_outputs(plot=plot, save=save, report=html, create_folders=True)
    from bayescale.core.console import note

    note(f"{spec.title}\n{len(frame)} rows from {spec.data.get('dataset') or spec.data.get('path')}")
    kwargs = spec.fit_kwargs() | sampling_kwargs(args)
    fit = bayescale.fit(frame, progress=not args.quiet, **kwargs)
    prob = args.prob or spec.predict.get("prob", 0.9)
    disc = spec.predict.get("discrepancy", True if spec.model.get("discrepancy") else None)  # True: the learned s
    report(fit, at=spec.predict.get("at"), prob=prob, groups=spec.predict.get("groups"), plot=plot, save=save,
           plain=args.plain, discrepancy=disc, all_flags=args.all_flags, reach=spec.reach.get("targets"),
           reach_groups=reach_groups)
    plan = _plan(fit, spec, args) if spec.plan else None
    if html:
        from bayescale.reports import reproduce_command, write_report

        make_parent(html)
        write_report(fit, html, at=spec.predict.get("at"), prob=prob, groups=spec.predict.get("groups"),
                     discrepancy=disc, title=spec.title, reach=spec.reach.get("targets"), reach_groups=reach_groups,
                     command=reproduce_command(args, ["spec"], seed=fit.config.seed), plan=plan)
        note(f"wrote report {html}")
    return 0


def _plan(fit, spec, args):
    """The spec's ``[plan]``: printed, its figure written where ``plot`` says; the table for the report."""
    from bayescale.cli.plan import show_plan, write_plan_figure

    options = {k: v for k, v in spec.plan.items() if k != "plot"}
    table = fit.plan(**options)
    print()
    show_plan(table, plain=True if args.plain else None)
    if spec.plan.get("plot"):
        make_parent(spec.plan["plot"])
        write_plan_figure(table, spec.plan["plot"])
    return table
