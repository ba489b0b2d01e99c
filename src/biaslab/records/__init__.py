"""What a run leaves on disk: results.json, atomic writes, secrets kept out (no torch)."""
