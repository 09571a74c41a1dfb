"""A subprocess whose output (pid, time, randomness) the parent reads through a pipe."""
import os
import subprocess
import sys

out = subprocess.run(
    [sys.executable, "-c", "import os, time; print(os.getpid(), time.time(), os.urandom(4).hex())"],
    capture_output=True, text=True, check=True,
)
print("parent", os.getpid(), "child said:", out.stdout.strip())
