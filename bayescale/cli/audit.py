"""``bayescale audit claim.toml``: refit the data behind a scaling claim and judge each claimed item."""

from __future__ import annotations

from bayescale.cli._common import add_sampling_options, positive_float
from bayescale.cli._format import add_format_options


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "audit", help="audit a published scaling claim against its data (see models/audit_*.toml)",
        description="Refit the data behind a claim (TOML: [data], [model], [claim]) and report, per claimed "
                    "item, where it falls in the posterior, a verdict, a width check, flags, and where more "
                    "runs would most narrow the interval. Exit 0 when the audit ran (the verdict is in the "
                    "output), 2 on bad input.",
    )
    parser.add_argument("claim", help="claim file (TOML)")
    parser.add_argument("--report", metavar="MD", help="write the Markdown report here, or a self-contained HTML "
                        "report when the name ends in .html "
                        "(default: the claim's output.report, else <claim>.audit.md next to the claim)")
    parser.add_argument("--plan", action="store_true", help="plan the next runs for each claimed item: the greedy "
                        "batch under --budget (or the claim's [plan] budget) that narrows it most per FLOP")
    parser.add_argument("--budget", type=positive_float, metavar="B",
                        help="what the planned runs may cost in all (FLOPs; implies --plan)")
    parser.add_argument("--plain", action="store_true", help="plain-text tables even on a terminal")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_sampling_options(parser)
    add_format_options(parser)
    return parser


def run(args) -> int:
    from pathlib import Path

    from bayescale.core.console import note
    from bayescale.core.files import check_writable
    from bayescale.workflows.audit import audit, parse_claim
    from bayescale.workflows.audit.plan_items import plan_options

    claim = parse_claim(args.claim)  # bad claims fail here, before any sampling
    wants_plan = args.plan or args.budget is not None or bool(claim.plan)
    plan = plan_options(claim, {} if args.budget is None else {"budget": args.budget}) if wants_plan else None
    report = args.report or claim.output.get("report") or str(Path(args.claim).with_suffix(".audit.md"))
    if args.report is None and claim.output.get("report"):
        Path(report).parent.mkdir(parents=True, exist_ok=True)
    check_writable(report)
    result = audit(args.claim, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed,
                   sampler=args.sampler, progress=not args.quiet, plan=plan)
    result.print(plain=True if args.plain else None)
    if report.lower().endswith((".html", ".htm")):
        from bayescale.reports import reproduce_command, write_audit_report

        write_audit_report(result, report, at=claim.targets(),
                           command=reproduce_command(args, ["claim"], seed=result.fit.config.seed))
    else:
        result.write(report)
    note(f"\nwrote report {report}")
    return 0
