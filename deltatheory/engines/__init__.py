"""Simulation engines for online (or finite-data) SGD in the logistic model.

``reduced``  exact in distribution and independent of d (JAX); the default. For the pair losses
             it draws only the inputs on which the teachers disagree
             (:mod:`~deltatheory.engines.disagreement`; the path each loss takes is listed
             in :mod:`~deltatheory.engines.reduced`).
``full``     explicit d-dimensional vectors (JAX); also a finite data set revisited for epochs.
``numpy``    a plain numpy version of ``full``; the oracle the tests hold the others to.
"""

ENGINES = ("reduced", "full", "numpy")
