// POST /api/chat on the site → POST {RAG_SERVICE_URL}/api/chat, answer relayed as it came.
// Needs server rendering for this route (an SSR adapter); the secret never reaches the browser.
import type { APIRoute } from "astro";
import { relay } from "../../lib/chat-relay.mjs";

export const prerender = false;

export const POST: APIRoute = ({ request, clientAddress }) =>
  relay(request, {
    serviceUrl: import.meta.env.RAG_SERVICE_URL,
    apiKey: import.meta.env.RAG_API_KEY,
    path: "/api/chat",
    clientAddress,
  });
