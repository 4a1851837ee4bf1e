"""ipywidgets panels for the notebooks: lifecycle, event log, pull progress, layers, ..."""
