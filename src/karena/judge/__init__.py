"""K-Sort Eval: place a new model on a leaderboard with a corrected VLM judge (METHODS §2)."""
