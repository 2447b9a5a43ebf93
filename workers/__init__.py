"""One thin entry module per tickborg process: read config, declare topology, build the worker, run."""
