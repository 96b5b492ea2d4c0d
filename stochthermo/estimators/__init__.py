"""Estimator implementations behind :mod:`stochthermo.estimate` (private; import from there).

Modules: ``_common`` (input coercion, grouped sufficient statistics, jackknife),
``entropy`` (entropy production), ``information`` (mutual information), ``flows``
(information flow), ``noise`` (time series and SGD noise), ``fluctuation`` (fluctuation
theorems). See ``theory/estimators.md``.
"""
