"""File-batch front ends of the ``facedeblur`` subcommands, on one batch runner (``batch``)."""
