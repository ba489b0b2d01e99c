"""biaslab: does the bias in a convolutional layer change test accuracy?"""

__version__ = "0.1.0"
