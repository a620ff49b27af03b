// Drives the relay with scenarios from stdin (a JSON list) and prints what it answered,
// so the Python test suite can compare the relay with the service it fronts:
//   node test/relay-check.mjs < scenarios.json
//   scenario: {name, headers?, body? (text) | bodyBase64?, and either
//              options: RelayOptions                         → relay(request, options), or
//              route: "src/pages/api/chat.ts", clientAddress?, buildEnv?, env?
//                                                            → the route's POST({request, clientAddress})}
//
// A route is loaded the way `astro build` leaves it under Astro 5: its types stripped and each
// `import.meta.env.NAME` replaced by the value NAME had at build time — `buildEnv[NAME]`, or
// undefined when the build did not have it. `env` is then put into this process's environment
// for that one request only, after the route was loaded: the settings a host gives the running
// server. (The Python side starts this process without RAG_SERVICE_URL or RAG_API_KEY.)
import { readFile } from "node:fs/promises";
import { relay } from "../src/lib/chat-relay.mjs";

const EXAMPLE = new URL("../", import.meta.url);
const SETTINGS = ["RAG_SERVICE_URL", "RAG_API_KEY"];

/** The route module as built: no TypeScript, import.meta.env.X inlined. */
async function loadBuiltRoute(route, buildEnv = {}) {
  const file = new URL(route, EXAMPLE);
  let code = await readFile(file, "utf8");
  code = code
    .replace(/^import type .*;$/gm, "")
    .replace(/: APIRoute\b/g, "")
    .replace(/\bimport\.meta\.env\.([A-Za-z_][A-Za-z0-9_]*)/g,
      (_, name) => (name in buildEnv ? JSON.stringify(buildEnv[name]) : "undefined"))
    .replace(/(from\s+)"(\.{1,2}\/[^"]+)"/g, (_, from, spec) => `${from}"${new URL(spec, file).href}"`);
  if (code.replace(/\/\/.*$/gm, "").includes("import.meta.env")) throw new Error(`${route}: import.meta.env left after the build`);
  return import(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** Run fn with exactly `env` as the relay's settings in process.env, then take them away. */
async function withEnvironment(env = {}, fn) {
  for (const name of SETTINGS) delete process.env[name];
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const name of SETTINGS) delete process.env[name];
  }
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const scenarios = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const leaked = SETTINGS.filter((name) => process.env[name] !== undefined);
if (leaked.length) throw new Error(`started with ${leaked.join(", ")} set: the scenarios say what is set`);

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
  let response;
  if (scenario.route) {
    const { POST } = await loadBuiltRoute(scenario.route, scenario.buildEnv);
    response = await withEnvironment(scenario.env, () => POST({ request, clientAddress: scenario.clientAddress }));
  } else {
    response = await relay(request, scenario.options);
  }
  results.push({
    name: scenario.name,
    status: response.status,
    contentType: response.headers.get("content-type"),
    retryAfter: response.headers.get("retry-after"),
    body: await response.text(),
  });
}
process.stdout.write(JSON.stringify(results));
