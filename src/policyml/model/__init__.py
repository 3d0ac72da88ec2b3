"""The model stage: features, the split, model pipelines, metrics and the modelling of each task."""
