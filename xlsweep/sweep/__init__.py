"""Ray Tune at the edge: the trainable, the progress display and the sweep driver."""
