"""The cost and capacity model behind bench/cost.py: dated prices, pure pricing and capacity.

Pure Python (no AWS, no moto): unit tests import it directly (tests/unit/bench).
"""
