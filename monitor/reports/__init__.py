"""Charts, PDF reports and CSV writers: they take data and a path, and never query."""
