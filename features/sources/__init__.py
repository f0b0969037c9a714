"""Where raw data comes from: the lifecycle simulator (features.simulator) and real files."""
