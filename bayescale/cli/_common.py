"""What the fit-producing commands share: sampling options and the printed report."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def probability(text: str) -> float:
    value = positive_float(text)
    if not value < 1:
        raise argparse.ArgumentTypeError(f"expected a probability between 0 and 1, got {text!r}")
    return value


def count(text: str, minimum: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
    return value


def whole(text: str) -> int:
    """A whole number >= 0 (tuning steps)."""
    return count(text, 0)


def add_sampling_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sampling")
    group.add_argument("--draws", type=count, help="posterior draws per chain (default 1000)")
    group.add_argument("--tune", type=whole, help="tuning steps per chain (default 1000)")
    group.add_argument("--chains", type=count, help="chains (default 4)")
    group.add_argument("--seed", type=int, help="random seed (default: recorded random seed)")
    group.add_argument("--sampler", choices=["pymc", "nutpie", "numpyro", "blackjax"], help="NUTS implementation")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--plot", metavar="PNG", help="write the figure here")
    group.add_argument("--save", metavar="NC", help="save the fit (netCDF) here")
    group.add_argument("--report", metavar="HTML", help="write a self-contained HTML report here")
    group.add_argument("--prob", type=probability, help="central interval mass (default 0.9)")
    group.add_argument("--plain", action="store_true", help="plain-text tables even on a terminal")
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def sampling_kwargs(args: argparse.Namespace) -> dict:
    names = ("draws", "tune", "chains", "seed", "sampler")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def add_flag_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all-flags", action="store_true",
                        help="list every flag row (default: warnings, then one line per kind of info flag)")


def check_outputs(*, plot=None, save=None, report=None, tables=(), plots=(), folder=None,
                  create_folders: bool = False) -> None:
    """Refuse, before any sampling, an output that cannot be written, with ``cannot write KIND 'path': why``.

    ``plot``/``plots``: figures (the suffix must be a format matplotlib writes); ``save``: a fit
    (netCDF); ``report``: an HTML report; ``tables``: CSV files; ``folder``: an output folder
    (created later by the run). ``create_folders`` accepts paths whose folders do not exist yet
    but can be made (spec ``[output]`` entries): nothing is created here, so a run that fails
    leaves nothing behind; :func:`make_parent` creates them just before writing.
    """
    from bayescale.errors import OutputError

    if report:
        from bayescale.reports import check_report_path

        _check_file(report, "report", create_folders, check=check_report_path)
    for path in [plot, *plots]:
        if path:
            _check_file(path, "plot", create_folders, check=_check_plot)
    if save:
        _check_file(save, "fit", create_folders)
    for path in tables:
        if path:
            _check_file(path, "table", create_folders)
    if folder:
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"cannot write output folder {str(folder)!r}: it exists and is not a folder")
        _check_file(folder / "x" if folder.is_dir() else folder, "output folder", create_folders, shown=folder)


def _check_plot(path: Path) -> None:
    from bayescale.core.files import check_writable
    from bayescale.errors import OutputError

    suffix = path.suffix.lower().lstrip(".")
    formats = plot_formats()
    if suffix not in formats:
        got = f"'.{suffix}'" if suffix else "no suffix"
        raise OutputError(f"cannot write plot {str(path)!r}: the name must end in a format matplotlib writes "
                          f"({', '.join('.' + f for f in formats)}), got {got}")
    check_writable(path, "plot")


def plot_formats() -> list[str]:
    """File suffixes matplotlib can write (png, pdf, svg, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def _check_file(path, what: str, create_folders: bool, *, check=None, shown=None) -> None:
    """Run ``check`` (default: :func:`bayescale.core.files.check_writable`) on ``path``; where its folders are
    to be created, on the same name in the nearest folder that exists."""
    from bayescale.core.files import check_writable
    from bayescale.errors import OutputError

    path = Path(path)
    shown = Path(shown or path)
    probe = path
    if create_folders and not path.parent.exists():
        probe = next(p for p in path.parent.parents if p.exists()) / path.name
    try:
        (check or (lambda p: check_writable(p, what)))(probe)
    except OutputError as exc:
        if probe == shown:
            raise
        raise OutputError(str(exc).replace(repr(str(probe)), repr(str(shown)), 1)) from None


def make_parent(path) -> None:
    """Create the folder of an output path (checked by :func:`check_outputs`) just before writing it."""
    if path:
        from bayescale.errors import OutputError

        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the folder of {str(path)!r}: {exc.strerror or exc}") from exc


def write_figure(figure, path) -> None:
    """Write a matplotlib figure atomically: a failed write leaves no partial file."""
    from bayescale.core.files import atomic_write

    make_parent(path)
    fmt = Path(path).suffix.lower().lstrip(".")
    atomic_write(path, lambda tmp: figure.savefig(tmp, format=fmt, dpi=120))


def report(fit, *, at=None, prob: float = 0.9, groups=None, plot=None, save=None, plain=None,
           discrepancy: float | None = None, all_flags: bool = False, reach=None, reach_groups=None) -> None:
    """Print summary, predictions, reach and flags; write the figure and the fit where asked.

    ``reach`` (targets of the metric) prints where the mean curve of ``reach_groups`` (default:
    every group) reaches each.

    ``discrepancy`` (a scale ``s``, :mod:`bayescale.laws.discrepancy`; True: the ``s`` a chinchilla
    fit learned, :mod:`bayescale.laws.chinchilla_drift`) widens the predictions and bands.
    The flag table leads with warnings; info rows are one line per code unless ``all_flags``.
    """
    widen = {} if discrepancy is None else {"discrepancy": discrepancy}
    from bayescale.core.console import note, print_table

    plain = True if plain else None
    summary = fit.summary(prob=prob)
    print_table(summary.rename_axis(summary.index.name or "parameter"), f"Posterior summary ({int(prob * 100)}% HDI)",
                plain=plain, name="summary")
    if discrepancy is True:
        from bayescale.results.chinchilla_drift import summary

        print_table(summary(fit), "Discrepancy learned by forward chaining over compute (s: sd of log loss per "
                    "decade beyond the fitted runs; s_low, s_high: 90% interval)", index=False, plain=plain,
                    name="discrepancy")
    if at:
        predictions = fit.predict(at, groups, prob=prob, **widen)
        extra = discrepancy_label(fit, discrepancy)
        print_table(predictions, f"Predictions ({int(prob * 100)}% predictive interval{extra})", index=False,
                    plain=plain, name="predictions")
        if discrepancy is None:
            import textwrap

            from bayescale.core.tables import screen_width

            text = (f"beyond the data, model discrepancy: {fit.discrepancy_text(discrepancy)} "
                    "(--no-discrepancy: the posterior alone)")
            note("\n".join(textwrap.wrap(text, screen_width())))
        if hasattr(fit, "optimal"):
            print_table(fit.optimal(at, prob=prob), f"Compute-optimal allocation ({int(prob * 100)}% interval)",
                        index=False, plain=plain, name="optimal")
    if reach:
        print_reach(fit, reach, groups=reach_groups, prob=prob, plain=plain, discrepancy=discrepancy)
    print_flags(fit.flags(at=at), plain=plain, all_flags=all_flags)
    if plot:
        chinchilla = fit.config.law == "chinchilla"  # its isoFLOP figure draws the plain posterior
        write_figure(fit.plot(at=at, prob=prob, groups=groups, **({} if chinchilla else widen)), plot)
        note(f"\nwrote figure {plot}")
    if save:
        make_parent(save)
        written = fit.save(save)  # a stacked fit writes one file per law (fit.power.nc, fit.broken.nc)
        note(f"wrote fit {', '.join(written) if written else save}")


LEARNED = True  # --discrepancy without S: the s a chinchilla fit learns (bayescale.fitting.chinchilla_drift)


def discrepancy_label(fit, discrepancy) -> str:
    """The title suffix for a discrepancy given on the command line ("" for the default drift prior,
    which a note under the table names)."""
    if discrepancy is None:
        return ""
    if discrepancy is True:
        return ", with the discrepancy the fit learned by forward chaining over compute"
    if discrepancy is False:
        return ", the posterior alone"
    return f", discrepancy s = {discrepancy:g} per decade beyond the data"


def add_discrepancy_options(parser: argparse.ArgumentParser, *, at_fit: bool) -> None:
    """``--discrepancy [S]``, ``--no-discrepancy`` and, where a fit is made, ``--drift-prior`` and ``--axis``."""
    learn = ("a chinchilla fit learns it by forward chaining over compute (a few more fits)" if at_fit else
             "the s a chinchilla fit learned (fit --discrepancy)")
    parser.add_argument("--discrepancy", type=positive_float, metavar="S", nargs="?", const=LEARNED,
                        help="widen forecasts beyond the data by a model discrepancy whose sd of log y (logit y for "
                             "errors and accuracies) grows by S per decade (default: s from the learned drift "
                             f"prior, see 'bayescale drift-prior'); without S, {learn}")
    parser.add_argument("--no-discrepancy", action="store_true",
                        help="forecasts from the posterior alone, the law taken as exact beyond the data")
    if at_fit:
        parser.add_argument("--drift-prior", metavar="FILE",
                            help="drift prior to use (a file from 'bayescale learn-priors'; default: the shipped one)")
        parser.add_argument("--axis", choices=["steps", "tokens", "params", "compute", "examples"],
                            help="what x is (recorded with the fit)")


def discrepancy_choice(args):
    """``discrepancy`` for the Python API from ``--discrepancy``/``--no-discrepancy`` (None: the default)."""
    if args.no_discrepancy:
        if args.discrepancy is not None:
            from bayescale.errors import DataError

            raise DataError("--discrepancy and --no-discrepancy contradict each other: give one")
        return False
    return args.discrepancy


def cli_discrepancy(laws, value, fit=None):
    """The ``discrepancy`` argument for ``--discrepancy [S]`` (``True``: the learned ``s``).

    Without ``S`` only a law whose registry entry learns ``s`` at fit time qualifies (``fit``, a
    saved fit, must hold one); ``S`` applies to every law.
    """
    from bayescale.core.registry import LAWS
    from bayescale.errors import DataError
    laws = [laws] if isinstance(laws, str) else list(laws)
    if value is not LEARNED:
        return value
    able = [name for name, spec in LAWS.items() if spec.discrepancy is not None]
    if len(laws) != 1 or laws[0] not in able:
        raise DataError(f"--discrepancy without S uses the s a {' or '.join(able)} fit learns by forward chaining; "
                        f"for the {' '.join(laws)} law give S (learn it with 'bayescale backtest --discrepancy')")
    if fit is not None:
        from bayescale.results.chinchilla_drift import summary

        summary(fit)  # raises when the saved fit learned none
    return True


def add_reach_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reach", nargs="+", type=finite_float, metavar="Y",
                        help="targets of the metric: print the scale at which the mean curve reaches each (the "
                             "compute for chinchilla), with its interval and P(never)")


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def check_reach(targets, laws, noise=None) -> None:
    """Refuse ``--reach`` targets that no law in ``laws`` can reach, before any sampling."""
    from bayescale.results.reach import check_targets

    for law in laws:
        check_targets(targets, law=law, noise=noise, name="--reach")


def print_reach(fit, targets, *, groups=None, prob: float = 0.9, plain=None, discrepancy=None) -> None:
    """Print ``fit.reach(targets)``: where the mean curve reaches each target (:mod:`bayescale.results.reach`)."""
    from bayescale.core.console import print_table

    widen = {} if discrepancy is None else {"discrepancy": discrepancy}
    chinchilla = fit.config.law == "chinchilla"
    group, what = (None, "compute at which the compute-optimal loss") if chinchilla else \
        (groups, f"{fit.config.x} at which the mean curve")
    extra = discrepancy_label(fit, discrepancy)
    print_table(fit.reach(targets, group, prob=prob, **widen),
                f"Reach: {what} gets to each target ({int(prob * 100)}% interval, "
                f"p_never = share of draws that never do{extra})", index=False, plain=plain, name="reach")


def print_flags(flags, *, plain=None, all_flags: bool = False) -> None:
    """Print the flag table: warnings first; info rows one line per code unless ``all_flags``.

    Machine formats (``--format json``, ...) write ``flags`` itself, one row per flag, as ``fit.flags()``.
    """
    import pandas as pd

    from bayescale.core.console import print_table

    show = partial(print_table, index=False, plain=plain, name="flags", lead=FLAG_LEAD, data=flags)
    if not len(flags):
        show(flags, "Flags")  # "Flags: none"
        return
    is_warning = flags["severity"] == "warning"
    warnings, info = flags[is_warning], flags[~is_warning]
    title = f"Flags: {len(warnings)} warning{'s' * (len(warnings) != 1)}, {len(info)} info"
    if all_flags or info["code"].nunique() == len(info):  # nothing to summarise
        show(_merge_groups(pd.concat([warnings, info])), title)
        return
    table = pd.concat([_merge_groups(warnings), summarise_info(info)], ignore_index=True)
    show(table, f"{title}, one line per kind (--all-flags lists every row)")


#: what a reader scans first in a flag table
FLAG_LEAD = ("severity", "item", "code")


def summarise_info(info):
    """One row per info code: how many groups and targets it concerns, and one example message."""
    import pandas as pd

    rows = []
    for code, rows_of_code in info.groupby("code", sort=False):
        groups = [g for g in rows_of_code["group"].unique() if g is not None and g == g]
        targets = rows_of_code["x"].dropna().unique()
        concerns = [f"{len(groups)} group{'s' * (len(groups) != 1)}" if len(groups) > 1 else
                    (str(groups[0]) if groups else ""),
                    f"{len(targets)} target{'s' * (len(targets) != 1)}" if len(targets) else ""]
        messages = rows_of_code["message"].unique()
        first = rows_of_code.iloc[0]
        example = messages[0] if len(messages) == 1 else (
            f"e.g. {first['group']}: {first['message']}" if len(groups) > 1 else first["message"])
        rows.append({"severity": "info", "code": code, "group": ", ".join(c for c in concerns if c),
                     "message": example})
    return pd.DataFrame(rows, columns=["severity", "code", "group", "message"])


def _merge_groups(flags):
    """One printed row per identical flag, naming every group it concerns (fit.flags() stays tidy)."""
    def names(groups):
        named = [str(g) for g in groups if g is not None and g == g]
        return ", ".join(named) if named else ""

    return (flags.groupby(["severity", "code", "message"], sort=False, dropna=False)["group"].agg(names)
            .reset_index()[["severity", "code", "group", "message"]])
