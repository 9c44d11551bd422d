"""Auto-instrumentation of libraries, installed only while a profile is active."""
