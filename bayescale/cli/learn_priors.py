"""``bayescale learn-priors CORPUS.csv --out prior.json``: learn the drift prior from your own curves."""

from __future__ import annotations


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "learn-priors", help="learn how far laws drift beyond their data from a corpus of curves (a drift prior)",
        description="Cut every curve of the corpus at several origins, forecast the rest, and learn how the "
                    "error grows with the distance beyond the data, with data sets as a level. The corpus is a "
                    "CSV with columns dataset, curve, axis (steps, tokens, params, compute, examples), metric "
                    "(loss, error, accuracy), x, y. Use the result with 'bayescale fit ... --drift-prior FILE'.")
    parser.add_argument("corpus", nargs="?", help="the corpus CSV (omit with --public-corpus)")
    parser.add_argument("--public-corpus", metavar="FOLDER",
                        help="the public corpus folder (shared/data/corpus) plus bayescale's bundled data sets: "
                             "how the shipped prior is made")
    parser.add_argument("--out", required=True, help="where to write the prior (JSON)")
    parser.add_argument("--max-curves", type=int, default=60, help="curves per data set, drawn with --seed (60)")
    parser.add_argument("--origins", type=float, nargs="+", default=[0.4, 0.6, 0.8],
                        help="fractions of each curve's log-x range that are fitted (0.4 0.6 0.8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, help="processes (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    from bayescale.cli._format import add_format_options

    add_format_options(parser)
    return parser


def run(args) -> int:
    from bayescale.errors import DataError
    from bayescale.workflows.drift import drift_table, learn_priors

    if (args.corpus is None) == (args.public_corpus is None):
        raise DataError("give a corpus CSV or --public-corpus FOLDER (one of them)")
    if args.public_corpus:
        from bayescale.workflows.drift.corpus import load_corpus

        corpus = load_corpus(args.public_corpus)
    else:
        from bayescale.io.spec import read_csv

        corpus = read_csv(args.corpus)
    prior = learn_priors(corpus, split=args.origins, max_curves=args.max_curves, seed=args.seed,
                         workers=args.workers, progress=not args.quiet)
    prior.save(args.out)
    from bayescale.core.console import print_table

    print_table(drift_table(prior), "Learned drift s by covariate (sd of log y, or logit y, per decade beyond "
                "the data)", index=False)
    print(f"wrote drift prior {args.out} ({len(prior.data['datasets'])} data sets)")
    return 0
