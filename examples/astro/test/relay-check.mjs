// Drives chat-relay.mjs with scenarios from stdin (a JSON list) and prints what it answered,
// so the Python test suite can compare the relay with the service it fronts:
//   node test/relay-check.mjs < scenarios.json
//   scenario: {name, options: RelayOptions, headers?, body? (text) | bodyBase64?}
import { relay } from "../src/lib/chat-relay.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const scenarios = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const results = [];
for (const scenario of scenarios) {
  const body = scenario.bodyBase64 !== undefined
    ? Buffer.from(scenario.bodyBase64, "base64")
    : (scenario.body ?? "");
  const request = new Request("http://site.example/api/chat", {
    method: "POST",
    headers: scenario.headers ?? {},
    body,
  });
  const response = await relay(request, scenario.options);
  results.push({
    name: scenario.name,
    status: response.status,
    contentType: response.headers.get("content-type"),
    retryAfter: response.headers.get("retry-after"),
    body: await response.text(),
  });
}
process.stdout.write(JSON.stringify(results));
