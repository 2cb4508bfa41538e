"""The model: entries, their validation, risk vocabulary and the sharing rule. Pure Python: no
Flask, no database, no I/O beyond reading a file."""
