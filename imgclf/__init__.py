"""The imgclf command-line interface."""
