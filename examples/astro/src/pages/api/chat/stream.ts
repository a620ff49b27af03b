// POST /api/chat/stream on the site → the service's Server-Sent Events, streamed through.
// When the visitor leaves, the aborted request aborts the upstream fetch and the service stops.
import type { APIRoute } from "astro";
import { relay, relaySettings } from "../../../lib/chat-relay.mjs";

export const prerender = false;

export const POST: APIRoute = ({ request, clientAddress }) =>
  relay(request, {
    // read per request from the server's process.env; import.meta.env (inlined at build) only for `astro dev`
    ...relaySettings({ serviceUrl: import.meta.env.RAG_SERVICE_URL, apiKey: import.meta.env.RAG_API_KEY }),
    path: "/api/chat/stream",
    clientAddress,
    timeoutMs: 60_000, // the whole stream; the service's own deadline (30 s) ends it first
  });
