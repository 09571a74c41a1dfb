"""Writes a line to the file named on the command line, then reports what happened."""
import sys

try:
    with open(sys.argv[1], "w") as f:
        f.write("ledger entry\n")
    print("wrote", sys.argv[1])
except OSError as e:
    print("refused:", e.strerror)
