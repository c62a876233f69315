"""Fine-tuning: job config, data, the worker process, its events, and the runner that starts it."""
