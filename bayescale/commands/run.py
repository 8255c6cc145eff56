"""``bayescale run SPEC.toml``: run a study spec from ``models/``."""

from __future__ import annotations

from bayescale.commands._common import (
    add_output_options,
    add_sampling_options,
    check_outputs,
    ensure_parent,
    report,
    sampling_kwargs,
)


def add_parser(subparsers):
    parser = subparsers.add_parser("run", help="run a TOML study spec (see models/)",
                                   description="Run a TOML study spec: data, law, priors, targets, outputs.")
    parser.add_argument("spec", help="TOML spec file")
    add_sampling_options(parser)
    add_output_options(parser)
    return parser


def run(args) -> int:
    import bayescale
    from bayescale.spec import load_data, load_spec

    spec = load_spec(args.spec)
    plot = args.plot or spec.output.get("plot")
    save = args.save or spec.output.get("save")
    html = args.report or spec.output.get("report")
    for path in (plot, save, html):
        ensure_parent(path)
    check_outputs(plot, save)
    if html:
        from bayescale.report import check_report_path

        check_report_path(html)
    frame = load_data(spec)
    print(f"{spec.title}\n{len(frame)} rows from {spec.data.get('dataset') or spec.data.get('path')}")
    kwargs = spec.fit_kwargs() | sampling_kwargs(args)
    fit = bayescale.fit(frame, progress=not args.quiet, **kwargs)
    prob = args.prob or spec.predict.get("prob", 0.9)
    disc = spec.predict.get("discrepancy")
    report(fit, at=spec.predict.get("at"), prob=prob, groups=spec.predict.get("groups"), plot=plot, save=save,
           plain=args.plain, discrepancy=disc)
    if html:
        from bayescale.report import reproduce_command, write_report

        write_report(fit, html, at=spec.predict.get("at"), prob=prob, groups=spec.predict.get("groups"),
                     discrepancy=disc, title=spec.title,
                     command=reproduce_command(args, ["spec"], seed=fit.config.seed))
        print(f"wrote report {html}")
    return 0

