"""What the public API and the CLI do with saved runs beyond profiling: compare two, import a Kineto trace as
one, add a note to one (its report and trace rewritten)."""
