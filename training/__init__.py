"""Training: folder-per-class images -> Keras CNN -> evaluation -> gated int8 TFLite artifact."""
