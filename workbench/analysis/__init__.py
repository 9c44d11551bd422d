"""Pure functions from a `Run` (or its recording) to numbers and tables. They never plot or print."""
