"""Human preferences: blind votes between two answers, kept as a preference dataset, and a leaderboard."""
