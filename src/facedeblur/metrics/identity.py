"""Identity metrics on face descriptors (e.g. dlib's 128-d embeddings).

``frechet_distance`` is the Fréchet distance between two Gaussian fits; applied to face
descriptors it measures how far the distribution of identities of restored faces is from that of
the sharp faces. Call it FDD (Fréchet descriptor distance), not FID: FID is the same formula on
InceptionV3 pool3 features (``metrics.fid``), which reuses this function.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg


def identity_distances(desc_a, desc_b) -> np.ndarray:
    """Euclidean distances between face descriptors, in float64; below 0.6 means the same person
    for dlib's descriptors (``DLIB_MATCH_THRESHOLD``).

    Args:
        desc_a: (N, D) descriptors, or one (D,) descriptor.
        desc_b: (N, D) descriptors, or one (D,) descriptor; a single descriptor on either side
            is compared with every row of the other.

    Returns:
        (N,) distances; a 0-d array for two single descriptors (``float()`` gives the number).
    """
    a = np.asarray(desc_a, dtype=np.float64)
    b = np.asarray(desc_b, dtype=np.float64)
    rows_differ = a.ndim == b.ndim == 2 and a.shape != b.shape
    if a.ndim not in (1, 2) or b.ndim not in (1, 2) or a.shape[-1] != b.shape[-1] or rows_differ:
        raise ValueError(
            "identity distances need (N, D) or (D,) descriptors of one D, "
            f"got {a.shape} and {b.shape}"
        )
    return np.linalg.norm(a - b, axis=-1)


def verification_accuracy(distances, threshold: float = 0.6, same=None) -> float:
    """Share of pairs verified correctly at a distance ``threshold`` (dlib's 0.6 by default).

    Without ``same``, every pair is genuine (same person, e.g. restored vs sharp face) and the
    result is the share with distance < threshold. With ``same`` (booleans, one per pair),
    impostor pairs count as correct when their distance is >= threshold.
    """
    d = np.asarray(distances, dtype=np.float64).ravel()
    if d.size == 0:
        raise ValueError("verification accuracy needs at least one distance")
    accepted = d < threshold
    if same is None:
        return float(accepted.mean())
    same = np.asarray(same, dtype=bool).ravel()
    if same.shape != d.shape:
        raise ValueError(f"same has {same.size} entries for {d.size} distances")
    return float((accepted == same).mean())


def gaussian_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and sample covariance (D, D) of (N, D) features (N >= 2)."""
    f = np.asarray(feats, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(
            f"Fréchet statistics need an (N, D) array with N >= 2, got shape {f.shape}"
        )
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance_from_stats(mu_a, sigma_a, mu_b, sigma_b, eps: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 sqrtm(S_a S_b)) of two Gaussians.

    The matrix square root is scipy's; its real part is kept. When it is not finite (singular
    product), ``eps * I`` is added to both covariances and it is recomputed.
    """
    mu_a, mu_b = (
        np.atleast_1d(np.asarray(mu_a, np.float64)),
        np.atleast_1d(np.asarray(mu_b, np.float64)),
    )
    sigma_a, sigma_b = (
        np.atleast_2d(np.asarray(sigma_a, np.float64)),
        np.atleast_2d(np.asarray(sigma_b, np.float64)),
    )
    if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape:
        raise ValueError("Fréchet distance needs statistics of the same dimension")
    diff = mu_a - mu_b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = scipy.linalg.sqrtm(sigma_a @ sigma_b)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma_a.shape[0]) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            covmean = scipy.linalg.sqrtm((sigma_a + offset) @ (sigma_b + offset))
    covmean = np.real(covmean)
    return float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean))


def frechet_distance(feats_a, feats_b, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussian fits of two (N, D) feature sets.

    On face descriptors this is the FDD (Fréchet descriptor distance) between the identity
    distributions of two face sets; on Inception pool3 features it is FID.
    """
    mu_a, sigma_a = gaussian_stats(feats_a)
    mu_b, sigma_b = gaussian_stats(feats_b)
    return frechet_distance_from_stats(mu_a, sigma_a, mu_b, sigma_b, eps=eps)
