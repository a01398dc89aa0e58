"""Evaluation protocols (single image, moments), classical baselines, reports and tables."""

from .moments_protocol import MomentsResult, evaluate_moments
from .protocol import EvalResult, evaluate

__all__ = ["EvalResult", "MomentsResult", "evaluate", "evaluate_moments"]
