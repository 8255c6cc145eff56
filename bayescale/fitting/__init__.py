"""Fitting: from validated data and a law to posterior draws and a result object (layer 4).

One compile cache (:mod:`bayescale.fitting.compiled`) serves every fit.
"""
