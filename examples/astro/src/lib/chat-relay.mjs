// The proxy between the site's chat widget and the RAG workbench service.
//
// Plain JavaScript (ESM, JSDoc types) on web-standard fetch/Request/Response, so it runs in
// Astro's Node, Vercel, Netlify and Cloudflare adapters alike, and can be tested with bare Node.
// It forwards the visitor's request as it came (the service does all the validating), adds the
// shared secret and the visitor's address, and relays the service's answer unchanged: status,
// JSON body or event stream, Retry-After. Its own failures use the service's shape too:
// {"error": "<one sentence>"} with 413 (body too large) or 503 + Retry-After (service down or
// too slow), so the page handles exactly one set of errors.

/** @typedef {{ serviceUrl?: string, apiKey?: string, path: "/api/chat" | "/api/chat/stream",
 *              clientAddress?: string, timeoutMs?: number, maxBodyBytes?: number }} RelayOptions */

const RELAYED_HEADERS = ["content-type", "retry-after", "cache-control", "x-accel-buffering"];

/**
 * RAG_SERVICE_URL and RAG_API_KEY, read when a request comes in, from the running server's
 * environment (`process.env`: the Node adapter, Vercel, Netlify; Cloudflare with nodejs_compat).
 * Not `import.meta.env`: Astro 5 inlines `import.meta.env.X` into the build with the value it
 * had at *build* time, so a variable set only on the host at run time would never be seen (the
 * route would answer 503 "not configured"), and one set at build time would be frozen into
 * dist/server. `fallback` (the route's `import.meta.env` values) is for `astro dev`, which
 * reads `.env` into `import.meta.env` (Vite does not put it into `process.env`).
 * @param {{ serviceUrl?: string, apiKey?: string }} [fallback]
 * @returns {{ serviceUrl: string, apiKey: string }}
 */
export function relaySettings(fallback = {}) {
  const env = globalThis.process?.env ?? {};
  return {
    serviceUrl: env.RAG_SERVICE_URL || fallback.serviceUrl || "",
    apiKey: env.RAG_API_KEY || fallback.apiKey || "",
  };
}

/** A JSON error in the service's shape. */
export function errorResponse(status, message, retryAfter) {
  const headers = { "content-type": "application/json" };
  if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
  return new Response(JSON.stringify({ error: message }), { status, headers });
}

/**
 * Forward one POST to the service and relay its answer.
 * @param {Request} request  the visitor's request
 * @param {RelayOptions} options
 * @returns {Promise<Response>}
 */
export async function relay(request, options) {
  const { serviceUrl, apiKey, path, clientAddress, timeoutMs = 35_000, maxBodyBytes = 131_072 } = options;
  if (!serviceUrl) {
    console.error("chat relay: RAG_SERVICE_URL is not set");
    return errorResponse(503, "the chat service is not configured: try again later", 60);
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBodyBytes) return errorResponse(413, `the body is larger than ${maxBodyBytes} bytes`);
  const body = await request.arrayBuffer();
  if (body.byteLength > maxBodyBytes) return errorResponse(413, `the body is larger than ${maxBodyBytes} bytes`);

  const headers = { accept: request.headers.get("accept") ?? "application/json" };
  const contentType = request.headers.get("content-type");
  if (contentType) headers["content-type"] = contentType;
  if (apiKey) headers["x-api-key"] = apiKey;
  if (clientAddress) headers["x-forwarded-for"] = clientAddress; // set, never appended: the service trusts it

  // stop the service's work when the visitor leaves (streams) or when it takes too long
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  let upstream;
  try {
    upstream = await fetch(new URL(path, serviceUrl), { method: "POST", headers, body, signal });
  } catch (error) {
    if (timeout.aborted) return errorResponse(503, "the chat service did not answer in time: try again shortly", 5);
    console.error(`chat relay: the service is unreachable (${error?.cause?.code ?? error?.name ?? "error"})`);
    return errorResponse(503, "the chat service is unreachable: try again shortly", 10);
  }
  if (upstream.status === 401) console.error("chat relay: the service refused RAG_API_KEY (401): check both sides");

  const relayed = new Headers();
  for (const name of RELAYED_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) relayed.set(name, value);
  }
  return new Response(upstream.body, { status: upstream.status, headers: relayed });
}
