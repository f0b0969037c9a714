"""Where raw data comes from: the lifecycle simulator (features.data.simulator) and real files."""
