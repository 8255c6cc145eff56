"""Laws: each scaling law as a module of pure functions, default priors and its PyMC model (layer 2).

:mod:`bayescale.laws.formulas` holds the curves as pure functions, usable outside PyMC.
"""
