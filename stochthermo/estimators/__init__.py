"""Estimator implementations behind :mod:`stochthermo.estimate` (private; import from there).

Every module here is private: the public entry points are the names in
``stochthermo.estimate.__all__``. Modules: ``_stats`` (the statistics shared by every layer:
jackknife, Gaussian MI, log-log fit, SGD noise, log-softmax), ``_common`` (input coercion,
trajectory groups), ``_entropy`` (entropy production), ``_information`` (mutual information),
``_flows`` (information flow), ``_noise`` (time series and SGD noise), ``_fluctuation``
(fluctuation theorems), ``_learning_info`` (M-info and L-info), ``_jump`` (Markov jump data).
See ``theory/estimators.md``.
"""
