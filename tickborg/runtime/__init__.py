"""The worker runtime: plain workers (decode, handle) driven by a pika consumer loop."""
