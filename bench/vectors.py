"""Synthetic CLIP-shaped vectors for the ANN benches, two kinds, and how to tell them apart.

* ``clustered`` (the benches' first generator): clusters in a 32-d latent mapped into 512-d. A 64-d
  projection keeps 99.98 % of their variance — an easy job for any index that projects first, and
  not what real CLIP embeddings look like.
* ``power_law`` (issue #39): clusters whose covariance falls as a power law over all 512 dimensions —
  the variance of principal direction i is proportional to i^-EXPONENT, for the cluster centres and
  for the spread inside a cluster alike — in a random orthonormal basis. With EXPONENT 1 the top 32 /
  64 / 128 principal directions keep about 0.59 / 0.69 / 0.79 of the variance (``spectrum``
  measures it on each run), where real CLIP image embeddings need a few hundred directions for 90 %.

Every ANN figure is reported on both, labelled "clustered (32-d latent)" and "power law (realistic)".
"""

from __future__ import annotations

import numpy as np

DIM = 512
EXPONENT = 1.0  # variance of direction i ∝ i^-EXPONENT
_PROJ = np.random.default_rng(42).normal(size=(32, DIM)).astype(np.float32)
_BASIS = np.linalg.qr(np.random.default_rng(43).normal(size=(DIM, DIM)))[0].astype(np.float32)
LABELS = {"clustered": "clustered (32-d latent)", "power-law": "power law (realistic)"}


def clustered(n: int, rng: np.random.Generator, centers: int = 2000) -> np.ndarray:
    """Unit vectors with CLIP-like structure: clusters in a 32-d latent space mapped into 512-d.

    (Isotropic 512-d noise, tried first, has no meaningful nearest neighbours: every
    point is almost equally far from all others, which no real embedding looks like.)
    """
    c = rng.normal(size=(centers, 32)).astype(np.float32)
    z = c[rng.integers(0, centers, n)] + 0.5 * rng.normal(size=(n, 32)).astype(np.float32)
    x = z @ _PROJ + 0.05 * rng.normal(size=(n, DIM)).astype(np.float32) * np.sqrt(32 / DIM) * 8
    # float32 as the store holds them: NumPy 2 promotes the float64 scalar above, and a 4 GB float64
    # array at 1M made the exact scan, and the cold searches after it, slower than the app's
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def power_law(n: int, rng: np.random.Generator, centers: int = 2000, spread: float = 0.6) -> np.ndarray:
    """Unit vectors in clusters whose covariance falls as a power law over all 512 directions (made in
    chunks: 1M vectors never need more than one float32 copy)."""
    scale = (np.arange(1, DIM + 1, dtype=np.float32) ** (-EXPONENT / 2))
    c = rng.normal(size=(centers, DIM)).astype(np.float32) * scale
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 65536):
        m = min(65536, n - start)
        z = c[rng.integers(0, centers, m)] + spread * rng.normal(size=(m, DIM)).astype(np.float32) * scale
        x = z @ _BASIS
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def make(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    return clustered(n, rng) if kind == "clustered" else power_law(n, rng)


def spectrum(x: np.ndarray, tops: tuple[int, ...] = (32, 64, 128)) -> dict[int, float]:
    """The share of variance (about the mean) the top principal directions keep, on a 20k sample."""
    sample = x[: min(len(x), 20_000)].astype(np.float64)
    s = np.linalg.svd(sample - sample.mean(axis=0), compute_uv=False) ** 2
    return {k: float(s[:k].sum() / s.sum()) for k in tops}
