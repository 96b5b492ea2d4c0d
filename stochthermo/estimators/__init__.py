"""Estimator implementations behind :mod:`stochthermo.estimate` (private; import from there).

Every module here is private, whatever its name: the public entry points are the names in
``stochthermo.estimate.__all__``. Modules: ``_stats`` (the statistics shared by every layer:
jackknife, Gaussian MI, log-log fit, SGD noise, log-softmax), ``_common`` (input coercion,
trajectory groups), ``entropy`` (entropy production), ``information`` (mutual information),
``_flows`` (information flow), ``_noise`` (time series and SGD noise), ``fluctuation``
(fluctuation theorems), ``_learning_info`` (M-info and L-info), ``_jump`` (Markov jump data).
See ``theory/estimators.md``.
"""
