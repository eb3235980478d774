"""Readable twins: slow NumPy versions of tokgeo's fast C paths, used by the tests.

Each module computes the same quantities as its fast counterpart, the obvious way, so a test
can compare the two and a reader can see what the C code computes:

- :mod:`tokgeo.reference.metrics` - the :mod:`tokgeo.metrics` kernels (cosines, angles,
  path lengths, similarity matrices, top-k, histograms, t-tests, correlations, softmax).
- :mod:`tokgeo.reference.reduce` - the reductions of ``tokgeo._reduce`` (eigh, PCA, t-SNE's
  joint probabilities and optimisation, trustworthiness).

The modules import NumPy and the standard library only (tests/test_reference.py checks).
Not part of the public API.
"""

__all__ = ["metrics", "reduce"]
