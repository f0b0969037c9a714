"""failcast."""
