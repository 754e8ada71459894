"""Datasets: original-format readers, preprocessing, HDF5 cache, synthetic hands."""
