"""The Prompt lab tab: ``page`` (one prompt), ``side_by_side``, ``evaluate``, prompt ``fields``, the ``api``."""
