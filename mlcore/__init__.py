"""mlcore: run the fundamentals of machine learning from a short YAML file."""

__version__ = "0.1.0"
