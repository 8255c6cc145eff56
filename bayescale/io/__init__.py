"""Input and output of studies: spec files and the on-disk store of batch runs (layer 5)."""
