"""Error and warning types raised by bayescale.

Every problem with a user's input is raised as a :class:`BayescaleError` subclass
before any sampling starts, with a message naming the column, rows or field at fault.
"""


class BayescaleError(ValueError):
    """Base class of every error bayescale raises on bad input."""


class DataError(BayescaleError):
    """The data frame does not fit the analysis asked for."""


class TooFewPoints(DataError):
    """Fewer observations than the law has parameters (plus one)."""


class LawError(BayescaleError):
    """Unknown law, noise model or law option."""


class PriorError(BayescaleError):
    """A prior given by the user is malformed or names an unknown parameter."""


class SpecError(BayescaleError):
    """A TOML study spec is malformed."""


class OutputError(BayescaleError):
    """An output path cannot be written."""


class DataWarning(UserWarning):
    """Something in the data is suspicious but not fatal (e.g. duplicated rows)."""


class SamplingWarning(UserWarning):
    """The sampler reported a problem (divergences, high r_hat, low ESS)."""
