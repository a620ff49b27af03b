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
