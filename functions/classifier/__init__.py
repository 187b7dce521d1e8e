"""The imgclf classifier function: S3 event -> int8 LiteRT model -> results table + object tags."""
