"""The notebook adapter: `%load_ext workbench`, the `%%fmprofile` and `%fmprofile_note` magics, the cell body
run once or as `--repeat` / `--sweep` ask, the live view in the cell's output, the status-bar comm, and the
dashboards this kernel has shown (so a note redraws them)."""
