"""``bayescale drift-prior [FILE]``: the learned drift s by covariate, and where it was learned."""

from __future__ import annotations


def add_parser(subparsers):
    parser = subparsers.add_parser("drift-prior", help="show the drift prior forecasts use beyond the data")
    parser.add_argument("file", nargs="?", help="a prior from 'bayescale learn-priors' (default: the shipped one)")
    from bayescale.cli._format import add_format_options

    add_format_options(parser)
    return parser


def run(args) -> int:
    import pandas as pd

    from bayescale.core.console import print_table
    from bayescale.laws.drift_prior import drift_table, load_drift_prior

    prior = load_drift_prior(args.file)
    print(f"{prior!r}, learned {prior.data.get('created')}; effects learned: "
          f"{', '.join(prior.data.get('effects_learned', [])) or 'none'}")
    print_table(drift_table(prior), "Drift s of a new curve by covariate (median and 90% interval; "
                "decades_to_double: where the drift alone spans a factor of 2)", index=False)
    sources = pd.DataFrame([{k: (", ".join(v) if isinstance(v, list) else v) for k, v in row.items()}
                            for row in prior.data.get("provenance", [])])
    if len(sources):
        print_table(sources, "Learned from", index=False)
    return 0
