"""What the fit-producing commands share: sampling options and the printed report."""

from __future__ import annotations

import argparse
from pathlib import Path


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def add_sampling_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sampling")
    group.add_argument("--draws", type=int, help="posterior draws per chain (default 1000)")
    group.add_argument("--tune", type=int, help="tuning steps per chain (default 1000)")
    group.add_argument("--chains", type=int, help="chains (default 4)")
    group.add_argument("--seed", type=int, help="random seed (default: recorded random seed)")
    group.add_argument("--sampler", choices=["pymc", "nutpie", "numpyro", "blackjax"], help="NUTS implementation")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--plot", metavar="PNG", help="write the figure here")
    group.add_argument("--save", metavar="NC", help="save the fit (netCDF) here")
    group.add_argument("--report", metavar="HTML", help="write a self-contained HTML report here")
    group.add_argument("--prob", type=float, help="central interval mass (default 0.9)")
    group.add_argument("--plain", action="store_true", help="plain-text tables even on a terminal")
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def sampling_kwargs(args: argparse.Namespace) -> dict:
    names = ("draws", "tune", "chains", "seed", "sampler")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def check_outputs(*paths) -> None:
    """Fail before sampling when an output cannot be written."""
    from bayescale.io import check_writable

    for path in paths:
        if path:
            check_writable(path)


def report(fit, *, at=None, prob: float = 0.9, groups=None, plot=None, save=None, plain=None,
           discrepancy: float | None = None) -> None:
    """Print summary, predictions and flags; write the figure and the fit where asked.

    ``discrepancy`` (a scale ``s``, :mod:`bayescale.discrepancy`) widens the predictions and bands.
    """
    widen = {} if discrepancy is None else {"discrepancy": discrepancy}
    from bayescale.console import print_table

    plain = True if plain else None
    print_table(fit.summary(prob=prob), f"Posterior summary ({int(prob * 100)}% HDI)", plain=plain)
    if at:
        predictions = fit.predict(at, groups, prob=prob, **widen)
        extra = f", discrepancy s = {discrepancy:g} per decade beyond the data" if widen else ""
        print_table(predictions, f"Predictions ({int(prob * 100)}% predictive interval{extra})", index=False,
                    plain=plain)
        if hasattr(fit, "optimal"):
            print_table(fit.optimal(at, prob=prob), f"Compute-optimal allocation ({int(prob * 100)}% interval)",
                        index=False, plain=plain)
    flags = fit.flags(at=at)
    if len(flags):
        flags = flags.sort_values("severity", key=lambda s: s.map({"warning": 0}).fillna(1), kind="stable")
        print_table(_merge_groups(flags), "Flags", index=False, plain=plain)
    else:
        print("\nFlags: none")
    if plot:
        fit.plot(at=at, prob=prob, groups=groups, **widen).savefig(plot, dpi=120)
        print(f"\nwrote figure {plot}")
    if save:
        fit.save(save)
        print(f"wrote fit {save}")


def _merge_groups(flags):
    """One printed row per identical flag, naming every group it concerns (fit.flags() stays tidy)."""
    def names(groups):
        named = [str(g) for g in groups if g is not None and g == g]
        return ", ".join(named) if named else ""

    return (flags.groupby(["severity", "code", "message"], sort=False, dropna=False)["group"].agg(names)
            .reset_index()[["severity", "code", "group", "message"]])


def ensure_parent(path) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
