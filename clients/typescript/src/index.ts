// The Timepoint platform's public API for TypeScript: openapi-fetch over the types openapi-typescript generates from
// the edge's document (npm run generate writes src/schema.d.ts from /openapi/v1.json).
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { paths } from "./schema.js";

export type { paths, components } from "./schema.js";

/** An API key (sent as X-API-Key) or an access token (Authorization: Bearer); none for the public routes. */
export type Credential = { apiKey: string } | { accessToken: string };

/** A problem+json answer of the platform: `code` says what happened (auth.missing, rate_limited, ...). */
export interface Problem {
  status: number;
  code?: string;
  title?: string;
  detail?: string;
  errors?: Record<string, string[]>;
  [member: string]: unknown;
}

/** A typed client of the edge at `baseUrl` (http://localhost:5080 in development). */
export function createTimepointClient(baseUrl: string, credential?: Credential): Client<paths> {
  const client = createClient<paths>({ baseUrl });
  if (credential) {
    const sign: Middleware = {
      onRequest({ request }) {
        if ("apiKey" in credential) {
          request.headers.set("X-API-Key", credential.apiKey);
        } else {
          request.headers.set("Authorization", `Bearer ${credential.accessToken}`);
        }
        return request;
      },
    };
    client.use(sign);
  }
  return client;
}

/** What a metered call cost, from its X-Credits-Charged and X-Balance-After headers. */
export function creditsOf(response: Response): { charged: number; balanceAfter: number } | undefined {
  const charged = response.headers.get("X-Credits-Charged");
  const after = response.headers.get("X-Balance-After");
  return charged === null || after === null ? undefined : { charged: Number(charged), balanceAfter: Number(after) };
}

/** The caller's rate-limit window, from the X-RateLimit-* headers. */
export function rateLimitOf(response: Response): { limit: number; remaining: number; resetsAt: Date } | undefined {
  const [limit, remaining, reset] = ["Limit", "Remaining", "Reset"].map((h) => response.headers.get(`X-RateLimit-${h}`));
  return limit == null || remaining == null || reset == null
    ? undefined
    : { limit: Number(limit), remaining: Number(remaining), resetsAt: new Date(Number(reset) * 1000) };
}
