"""The cost and capacity model behind bench/cost.py: dated prices, pure pricing and capacity.

Pure Python (no AWS, no moto): unit tests import it directly (tests/unit/bench). The one
exception is recording.py, the hooks through which a pass of bench/cost.py records the run.
"""
