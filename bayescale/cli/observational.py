"""``bayescale observational SPEC.toml``: capability model across model families (observational scaling).

The spec is a small TOML file (see ``models/observational.toml``)::

    [data]       dataset = "obsscaling_base"  (bundled)  or  path = "table.csv" (relative to the spec)
    [model]      benchmarks = [...], family = "...", compute = "...", model = "...", k = 3, floors = {...},
                 noise = "shared" | "pooled" | "anchors" | "benchmark", missing_compute = "drop" | "error"
    [holdout]    target = "GSM8K", column = "Model Size (B)", below = 10   (optional: fit on rows with
                 column < below, predict target for the others, compare with the PCA baseline)
    [sampling]   method = "nuts" | "advi", draws, tune, chains, seed, advi_steps
    [output]     plot = "out/observational.png", benchmark = "GSM8K", prob = 0.9
"""

from __future__ import annotations

from pathlib import Path

from bayescale.cli._format import add_format_options

_SECTIONS = {
    "data": {"dataset", "path"},
    "model": {"benchmarks", "family", "compute", "model", "k", "floors", "noise", "missing_compute"},
    "holdout": {"target", "column", "below"},
    "sampling": {"method", "draws", "tune", "chains", "seed", "advi_steps"},
    "output": {"plot", "benchmark", "prob"},
}


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "observational",
        help="fit the Bayesian observational-scaling capability model to a benchmark table",
        description="Fit a latent capability model (k dimensions, family-level compute efficiency) to "
        "a table of benchmark scores; report capabilities, family efficiencies, loadings, imputed "
        "missing scores and, with [holdout], held-out error and coverage against the PCA baseline.",
    )
    parser.add_argument("spec", help="TOML spec (see models/observational.toml)")
    parser.add_argument("--method", choices=["nuts", "advi"], help="override [sampling] method")
    parser.add_argument("--draws", type=int, help="override [sampling] draws")
    parser.add_argument("--tune", type=int, help="override [sampling] tune")
    parser.add_argument("--chains", type=int, help="override [sampling] chains")
    parser.add_argument("--seed", type=int, help="override [sampling] seed")
    parser.add_argument("--plot", metavar="PNG", help="override [output] plot")
    parser.add_argument("--discrepancy", action="store_true",
                        help="widen the predicted missing (or [holdout]) scores by the drift learned by forward "
                        "chaining over compute (3 refits per benchmark predicted)")
    parser.add_argument("--plain", action="store_true", help="plain-text tables even on a terminal")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_format_options(parser)
    return parser


def read_spec(path: str) -> dict:
    """Read and check an observational spec; unknown sections or keys are errors."""
    from bayescale.errors import SpecError
    from bayescale.io.spec import read_toml

    spec = read_toml(path)
    for section, value in spec.items():
        if section in ("title", "description"):
            continue
        if section not in _SECTIONS:
            raise SpecError(f"{path}: unknown section [{section}]; known: {sorted(_SECTIONS)}")
        if not isinstance(value, dict):
            raise SpecError(f"{path}: [{section}] must be a table")
        unknown = set(value) - _SECTIONS[section]
        if unknown:
            raise SpecError(f"{path}: unknown keys {sorted(unknown)} in [{section}]; known: "
                            f"{sorted(_SECTIONS[section])}")
    data = spec.get("data", {})
    if ("dataset" in data) == ("path" in data):
        raise SpecError(f"{path}: [data] needs exactly one of dataset = NAME or path = CSV")
    if "benchmarks" not in spec.get("model", {}):
        raise SpecError(f"{path}: [model] benchmarks = [...] is required")
    holdout = spec.get("holdout")
    if holdout is not None and set(holdout) != _SECTIONS["holdout"]:
        raise SpecError(f"{path}: [holdout] needs target, column and below")
    spec["_dir"] = Path(path).resolve().parent
    return spec


def load_table(spec: dict):

    from bayescale.errors import SpecError

    data = spec["data"]
    if "dataset" in data:
        from bayescale import datasets

        return datasets.load(data["dataset"])
    csv = Path(data["path"])
    csv = csv if csv.is_absolute() else spec["_dir"] / csv
    if not csv.is_file():
        raise SpecError(f"[data] path {str(csv)!r} not found")
    from bayescale.io.spec import read_csv

    return read_csv(csv)


def run(args) -> int:
    import sys
    import warnings

    from bayescale.cli._common import check_outputs, write_figure
    from bayescale.core.console import note, print_table
    from bayescale.errors import DataError, DataWarning
    from bayescale.workflows.observational import holdout, observational

    spec = read_spec(args.spec)
    df = load_table(spec)
    model_opts = dict(spec["model"])
    sampling = dict(spec.get("sampling", {}))
    for name in ("method", "draws", "tune", "chains", "seed"):
        if getattr(args, name) is not None:
            sampling[name] = getattr(args, name)
    output = spec.get("output", {})
    prob = float(output.get("prob", 0.9))
    plot = args.plot or output.get("plot")  # relative to the working directory; its folder is made when written
    check_outputs(plot=plot, create_folders=True)
    plain = True if args.plain else None
    kwargs = {**model_opts, **sampling, "progress": not args.quiet}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        if "holdout" in spec:
            h = spec["holdout"]
            if h["column"] not in df.columns:
                raise DataError(f"[holdout] column {h['column']!r} not in the table")
            train = (df[h["column"]] < h["below"]).to_numpy()
            target = h["target"]
            kwargs.pop("benchmarks")
            fit, table, scores = holdout(df, target=target, train=train, benchmarks=model_opts["benchmarks"],
                                         prob=prob, discrepancy=args.discrepancy, **kwargs)
        else:
            fit = observational(df, **kwargs)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)

    title = spec.get("title")
    if title:
        note(title)
    note(repr(fit))
    missing = fit.missing()
    if len(missing):
        counts = missing.groupby("benchmark").size().rename("missing").reset_index()
        print_table(counts, "Missing scores (imputed by the model, not dropped)", index=False, plain=plain,
                    name="missing")
    eff = fit.efficiencies(prob=prob)
    print_table(eff.head(15), f"Family compute efficiency (mean logit at the reference compute, "
                f"{int(prob * 100)}% intervals)", index=False, plain=plain, name="efficiencies")
    print_table(fit.loadings(prob=prob), "Benchmark loadings (lower triangular, unit diagonal)",
                index=False, plain=plain, name="loadings")
    if args.discrepancy:
        calibrated = None if "holdout" in spec else fit.predict_missing(prob=prob, discrepancy=True)
        if calibrated is not None and len(calibrated):
            print_table(calibrated, f"Missing scores, widened by the learned drift ({int(prob * 100)}% intervals)",
                        index=False, plain=plain, name="missing_widened")
        import pandas as pd

        drift = pd.DataFrame([d.summary(prob) for d in fit.drift.values()])
        if len(drift):
            print_table(drift, "Learned drift (logit sd: s0 at the fitted compute, s per decade beyond)",
                        index=False, plain=plain, name="drift")
    if "holdout" in spec:
        print_table(table, f"Held-out {target} ({int(prob * 100)}% intervals)", index=False, plain=plain,
                    name="holdout")
        print_table(scores, "Held-out error and coverage: Bayesian model vs PCA + least squares",
                    index=False, plain=plain, name="holdout_scores")
    diag = fit.diagnostics()
    note("diagnostics: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in diag.items()))
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = fit.plot(output.get("benchmark", spec.get("holdout", {}).get("target")), prob=prob)
        ax.figure.tight_layout()
        write_figure(ax.figure, plot)
        plt.close(ax.figure)
        note(f"plot: {plot}")
    return 0
