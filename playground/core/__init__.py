"""What every other subpackage stands on: settings, errors, device, paths, queue settings, uploads.

Imports nothing else from ``playground`` (only the standard library, and torch lazily), so anything may import it."""
