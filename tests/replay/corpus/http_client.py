"""An HTTP request to a local server given on the command line; prints the answer."""
import sys
import urllib.request

with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/now", timeout=5) as resp:
    print(resp.status, resp.read().decode())
