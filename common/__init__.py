"""Shared code for both notebooks: data loading, metrics, plots and reproducibility helpers."""
