"""The run pipeline: config to data, model and task, fit and test, one record per member."""
