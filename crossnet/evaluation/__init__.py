"""Evaluation: public benchmark files, metrics, plots and reports."""
