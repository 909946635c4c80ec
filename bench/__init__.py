"""Load and latency benchmark of the production server (issue 2, item 10; `make bench`)."""
