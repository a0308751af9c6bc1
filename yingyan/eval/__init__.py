"""Evaluation: alerts matched to the simulator's ground truth by place and time, and DESIGN's measures."""

from yingyan.eval.matching import Alert, Scores, TruthIncident, score_alerts, truth_from_manifest

__all__ = ["Alert", "Scores", "TruthIncident", "score_alerts", "truth_from_manifest"]
