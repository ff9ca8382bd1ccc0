"""Example script block: count words in the text it receives on stdin.

Input (JSON on stdin): {"text": "..."}
Output (JSON on stdout): {"words": N, "longest": "..."}
"""

import json
import sys

data = json.load(sys.stdin)
words = data.get("text", "").split()
print(f"counting {len(words)} words", file=sys.stderr)  # stderr is the node's log
print(json.dumps({"words": len(words), "longest": max(words, key=len) if words else ""}))
