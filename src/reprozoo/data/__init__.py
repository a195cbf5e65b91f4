"""Datasets: sources (download to data/raw/), splits (data/splits/), and the file helpers they share."""
