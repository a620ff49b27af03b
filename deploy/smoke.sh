#!/usr/bin/env bash
# What an installed workbench must do, run from a folder that is not the checkout:
# ingest a site, answer a question, evaluate a dataset, and serve /api/chat.
#
#   deploy/smoke.sh VENV SITE DATASET      (run it from an empty working folder)
set -euo pipefail
venv=${1:?usage: deploy/smoke.sh VENV SITE DATASET}
site=${2:?site folder}
dataset=${3:?dataset JSONL}
wb="$venv/bin/workbench"
export LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1

"$wb" ingest "$site" --json | tail -1 > ingest.json
"$wb" chat --json "What is this site about?" | tail -1 > chat.json
"$wb" eval --split all --dataset "$dataset" --no-gate --json | tail -1 > eval.json

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$wb" serve --port "$port" > serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if "$venv/bin/python" - "$port" <<'PY' 2>/dev/null; then break; fi
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/ready", timeout=2) as r:
    sys.exit(0 if json.load(r)["ready"] else 1)
PY
  sleep 1
done
"$venv/bin/python" - "$port" > answer.json <<'PY'
import json, sys, urllib.request
request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/api/chat", method="POST",
                                 data=json.dumps({"message": "Hi! What do you work on?", "history": []}).encode(),
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=60) as r:
    answer = {"status": r.status, **json.load(r)}
# the one-tag widget ships inside the package
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/widget.js", timeout=10) as r:
    answer["widget_bytes"] = len(r.read()) if r.headers["Content-Type"].startswith("text/javascript") else 0
print(json.dumps(answer))
PY
echo "smoke test passed in $(pwd)" >&2
