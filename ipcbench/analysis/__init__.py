"""Analysis of result files: statistics, comparisons, summaries, advice, export.

Reads result files only; never imports the run or measure layers."""
