"""Results: fit objects, their predictions, flags, reach, plots and saved files (layer 3).

A result is built from posterior draws by the fitting layer below... above: it never fits.
"""
