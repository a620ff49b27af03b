// POST /api/chat on the site → POST {RAG_SERVICE_URL}/api/chat, answer relayed as it came.
// Needs server rendering for this route (an SSR adapter); the secret never reaches the browser.
import type { APIRoute } from "astro";
import { relay, relaySettings } from "../../lib/chat-relay.mjs";

export const prerender = false;

export const POST: APIRoute = ({ request, clientAddress }) =>
  relay(request, {
    // read per request from the server's process.env; import.meta.env (inlined at build) only for `astro dev`
    ...relaySettings({ serviceUrl: import.meta.env.RAG_SERVICE_URL, apiKey: import.meta.env.RAG_API_KEY }),
    path: "/api/chat",
    clientAddress,
  });
