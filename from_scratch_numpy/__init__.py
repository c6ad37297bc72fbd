"""The from-scratch NumPy network (walked through in basic_algorithm_numpy.ipynb)."""
