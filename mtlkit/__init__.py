"""mtlkit: multi-task and meta-learning on speech, a notebook teaching kit."""
__version__ = "0.1.0"
