"""Forecast every corpus curve from its early part (the data the drift prior is learned from).

Cuts each curve of the corpus (``shared/data/corpus`` and the shipped data sets; at most
``--max-curves`` curves per data set, seeded) at 40%, 60% and 80% of its log-x range, fits the
law to the early part and keeps 200 predictive draws at every later point. Writes the errors
on the drift's scale to ``--out``/errors.csv (the input of ``bayescale learn-priors``).

    .venv/bin/python benchmarks/drift_corpus.py --law power --max-curves 60
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path


def main(argv=None) -> int:
    from bayescale.workflows.drift.corpus import load_corpus
    from bayescale.workflows.drift.forecasts import corpus_forecasts, forecast_errors

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--law", default="power")
    parser.add_argument("--max-curves", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default="benchmarks/results/drift")
    parser.add_argument("--store", help="keep every fit in this folder (with --resume, reuse them)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sources", nargs="+", help="only these data sets (default: all)")
    parser.add_argument("--tag", default="", help="suffix of the errors file")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    corpus = load_corpus(sources=args.sources, max_curves=args.max_curves, seed=args.seed)
    result = corpus_forecasts(corpus, law=args.law, workers=args.workers, seed=args.seed, out=args.store,
                              resume=args.resume)
    errors = forecast_errors(result, corpus, law=args.law)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    errors.to_csv(out / f"errors_{args.law}{args.tag}.csv.gz", index=False)
    print(errors.groupby("dataset").agg(curves=("curve", "nunique"), points=("d", "size"),
                                        max_d=("d", "max")).to_string())
    print(f"subsample: {corpus.attrs['subsample']}; rows left out (not > 0, or a rate of 1): "
          f"{corpus.attrs['dropped']}")
    print(f"wall time {time.perf_counter() - start:.0f} s; wrote {out}/errors_{args.law}{args.tag}.csv.gz")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
