"""Result files: the row store, metadata, and the loader that turns rows into DataFrames."""
