"""AudioID Labeler: decide what thousands of short audio clips are, then write it into their tags."""

__version__ = "0.1.0"
